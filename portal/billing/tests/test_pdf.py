"""Statement and receipt PDFs: they parse, say what they must, and only reach who may see the bill."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.billing import ledger, overview, statements
from portal.billing.models import Payment
from portal.billing.pdf import receipt_filename, receipt_pdf, statement_pdf
from portal.billing.tests.overview_support import MISSING, billed_statement, pdf_text, persona, signed_in
from portal.billing.tests.support import DECLINED, HSA, BillingWorld, access_for, bill, billing_world, pay
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def pdf_url(statement_id: int) -> str:
    return reverse("billing:statement_pdf", args=[statement_id])


def test_the_statement_pdf_downloads_and_says_what_is_due(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    response = signed_in(bw.world.alice_user).get(pdf_url(statement.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="statement-{statement.number}.pdf"'
    text = pdf_text(response.content)
    assert statement.number in text
    assert "$80.00" in text and "$250.00" in text
    assert "Alice Able" in text and statement.account.number in text
    assert "99213" in text and "Office visit, established patient" in text
    event = AuditEvent.objects.get(action="billing.statement_download")
    assert (event.actor_id, event.patient_id, event.object_id) == (
        bw.world.alice_user.pk,
        bw.world.alice.pk,
        str(statement.pk),
    )


def test_the_proxy_with_the_billing_scope_downloads_it(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    response = signed_in(bw.payer).get(pdf_url(statement.pk))
    assert response.status_code == 200 and statement.number in pdf_text(response.content)
    assert AuditEvent.objects.get(action="billing.statement_download").actor_role == "proxy"


@pytest.mark.parametrize("who", ["proxy", "other_patient", "unassigned_staff", "admin", "clerk"])
def test_who_may_not_see_the_bill_gets_no_pdf(bw: BillingWorld, who: str) -> None:
    statement = billed_statement(bw.world.alice)
    client = signed_in(persona(bw, who))
    response = client.get(pdf_url(statement.pk))
    assert response.status_code in (302, 404)
    if who in ("proxy", "other_patient"):
        assert response.status_code == 404
    assert_same_as_missing(response, client.get(pdf_url(MISSING)))
    assert not AuditEvent.objects.filter(action="billing.statement_download").exists()


def test_anonymous_visitors_sign_in_first(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    response = signed_in(None).get(pdf_url(statement.pk))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_many_visits_and_unicode_names_print(bw: BillingWorld) -> None:
    alice = bw.world.alice
    alice.given_name, alice.family_name = "Zoë", "Łukasz 李"
    alice.save(update_fields=["given_name", "family_name"])
    for number in range(40):
        bill(alice, 10_00 + number, code=f"C{number}", description=f"Service number {number} — “quoted”")
    statement = billed_statement(alice, (5_00, 0, 0))
    content = statement_pdf(
        statement, overview.statement_visits(statement, access_for(bw.world.alice_user, alice))
    )
    text = pdf_text(content)
    assert "Zoë" in text and "Service number 39" in text
    assert statement.number in text


def test_a_credit_prints_with_a_minus_sign(bw: BillingWorld) -> None:
    alice = bw.world.alice
    billed_statement(alice)
    pay(bw.world.alice_user, alice, 80_00)
    ledger.post(ledger.account_for(alice), "adjustment", 12_00, description="Goodwill credit")
    statement = statements.issue_statement(ledger.account_for(alice))
    text = pdf_text(statement_pdf(statement, []))
    assert "12.00" in text
    assert "No new services in this period." in text


# Receipts ---------------------------------------------------------------------------------------------


def test_the_receipt_pdf_says_who_paid_what_how_and_to_whom(bw: BillingWorld, settings: Any) -> None:
    settings.PORTAL_PAYEE_NAME = "Rochester Clinic Patient Accounts"
    alice = bw.world.alice
    billed_statement(alice)
    payment = pay(bw.payer, alice, 80_00)
    assert payment.status == Payment.Status.SUCCEEDED and payment.receipt_number
    text = pdf_text(receipt_pdf(payment))
    assert payment.receipt_number in text
    assert payment.account.number in text
    assert "Alice Able" in text
    assert "$80.00" in text
    assert "Visa" in text and "4242" in text and "\u2022\u2022\u2022\u2022" in text
    assert "Paid" in text
    assert "Rochester Clinic Patient Accounts" in text
    assert receipt_filename(payment) == f"receipt-{payment.receipt_number}.pdf"


def test_a_receipt_of_a_declined_payment_says_so(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00)
    payment = pay(bw.world.alice_user, alice, 50_00, number=HSA)
    text = pdf_text(receipt_pdf(payment))
    assert payment.get_status_display() in text
    declined = pay(bw.world.alice_user, alice, 10_00, number=DECLINED)
    assert declined.status == Payment.Status.DECLINED
    text = pdf_text(receipt_pdf(declined))
    assert "Declined" in text and "$10.00" in text
