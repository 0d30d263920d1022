"""The billing office's home (search and work queues) and the account page: what they show,
that every view is audited, and that the account page costs the same however long its history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.billing import ledger, statements
from portal.billing.models import Account, LedgerEntry, Payment, PaymentPlan
from portal.billing.tests.staff_support import account_url, as_user, coverage_for, paid
from portal.billing.tests.support import NEEDS_CHECK, BillingWorld, bill, billing_world, pay
from portal.test import World, make_patient, query_count

pytestmark = pytest.mark.django_db

HOME = reverse("staff_billing:home")


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def test_home_finds_accounts_by_name_or_clinic_number(bw: BillingWorld) -> None:
    client = as_user(bw.clerk)
    by_number = client.get(HOME, {"q": bw.world.bob.clinic_number}).content.decode()
    assert account_url(bw.world.bob) in by_number and account_url(bw.world.alice) not in by_number
    by_name = client.get(HOME, {"q": "able"}).content.decode()
    assert account_url(bw.world.alice) in by_name and account_url(bw.world.bob) not in by_name
    assert "No patient matches" in client.get(HOME, {"q": "Zzyzx"}).content.decode()
    assert client.get(HOME, {"q": "x" * 500}).status_code == 200
    event = AuditEvent.objects.filter(action="billing.staff_home_view").order_by("sequence").first()
    assert event is not None and event.detail["patients"] == [bw.world.bob.pk]


def test_home_search_is_limited(bw: BillingWorld) -> None:
    for number in range(30):
        make_patient(f"2000{number:04d}", f"Many{number}", "Manyson", bw.world.campus)
    page = as_user(bw.clerk).get(HOME, {"q": "Manyson"}).content.decode()
    assert "25 patients found" in page


def test_home_shows_coverages_to_verify_and_payments_to_look_at(bw: BillingWorld) -> None:
    waiting = coverage_for(bw.world.alice, payer="Waiting Health")
    coverage_for(bw.world.bob, payer="Checked Health", status="verified")
    bill(bw.world.alice, 100_00)
    stuck = pay(bw.world.alice_user, bw.world.alice, 10_00, number=NEEDS_CHECK)
    Payment.objects.filter(pk=stuck.pk).update(status=Payment.Status.FAILED, failure_code="processing_error")
    old = pay(bw.world.alice_user, bw.world.alice, 11_00, number=NEEDS_CHECK)
    Payment.objects.filter(pk=old.pk).update(
        status=Payment.Status.FAILED, created_at=timezone.now() - dt.timedelta(days=30)
    )
    page = as_user(bw.clerk).get(HOME).content.decode()
    assert "Waiting Health" in page and "Checked Health" not in page
    assert reverse("staff_billing:coverage", args=[bw.world.alice.pk, waiting.pk]) in page
    assert "$10.00" in page and "processing_error" in page and "$11.00" not in page


def test_home_counts_stop_at_a_cap(bw: BillingWorld) -> None:
    from portal.billing import staff_views_account

    for number in range(12):
        coverage_for(bw.world.bob, payer=f"Plan {number}")
    staff_views_account.QUEUE_CAP, cap = 10, staff_views_account.QUEUE_CAP
    try:
        page = as_user(bw.clerk).get(HOME).content.decode()
    finally:
        staff_views_account.QUEUE_CAP = cap
    assert "10+" in page


def test_home_costs_the_same_however_much_work_is_waiting(bw: BillingWorld) -> None:
    client = as_user(bw.clerk)
    coverage_for(bw.world.alice)
    client.get(HOME)
    few = query_count(lambda: client.get(HOME, {"q": "Able"}))
    for number in range(15):
        coverage_for(bw.world.bob, payer=f"Plan {number}")
        make_patient(f"3000{number:04d}", f"Ann{number}", "Able", bw.world.campus)
    assert query_count(lambda: client.get(HOME, {"q": "Able"})) == few


def test_the_account_page_shows_everything_and_is_audited(bw: BillingWorld) -> None:
    alice = bw.world.alice
    payment = paid(bw)
    statements.issue_statement(ledger.account_for(alice))
    coverage_for(alice)
    account = ledger.account_for(alice)
    plan = PaymentPlan.objects.create(account=account, total_cents=50_00, instalment_count=5)
    page = as_user(bw.clerk).get(account_url(alice)).content.decode()
    assert "$50.00 in 5 monthly payments" in page
    assert reverse("staff_billing:plan", args=[plan.pk]) in page
    assert account.number in page and "$50.00" in page
    assert payment.receipt_number and payment.receipt_number in page
    assert reverse("staff_billing:refund", args=[payment.pk]) in page
    assert "Office visit, established patient" in page and "Acme Health" in page
    assert account.statements.get().number in page
    event = AuditEvent.objects.filter(action="billing.staff_account_view").get()
    assert (event.kind, event.patient_id, event.actor_id, event.actor_role) == (
        "read",
        alice.pk,
        bw.clerk.pk,
        "staff",
    )


def test_the_ledger_pages_by_keyset(bw: BillingWorld) -> None:
    alice = bw.world.alice
    lines = [bill(alice, 1_00 + number, description=f"Service {number:02d}") for number in range(30)]
    client = as_user(bw.clerk)
    first = client.get(account_url(alice)).content.decode()
    assert "Service 29" in first and "Service 05" in first and "Service 04" not in first
    cursor = LedgerEntry.objects.get(service_line=lines[5]).pk
    second = client.get(account_url(alice), {"ledger": cursor}).content.decode()
    assert "Service 04" in second and "Service 00" in second and "Service 05" not in second
    assert client.get(account_url(alice), {"ledger": "junk"}).status_code == 200
    assert client.get(account_url(alice), {"payments": "9" * 40}).status_code == 200


def test_the_account_page_costs_the_same_for_a_long_history(bw: BillingWorld) -> None:
    alice = bw.world.alice
    client = as_user(bw.clerk)
    bill(alice, 50_00)
    pay(bw.world.alice_user, alice, 10_00)
    coverage_for(alice)
    client.get(account_url(alice))
    short = query_count(lambda: client.get(account_url(alice)))
    for number in range(14):
        bill(alice, 50_00, description=f"Visit {number}")
        pay(bw.world.alice_user, alice, 10_00)
    client.post(
        reverse("staff_billing:refund", args=[Payment.objects.first().pk]),  # type: ignore[union-attr]
        {"key": "refund-key-0123456789", "amount": "5.00", "reason": "Overpaid"},
    )
    statements.issue_statement(ledger.account_for(alice))
    coverage_for(alice, payer="Second Health")
    assert LedgerEntry.objects.filter(account__patient=alice).count() >= 30
    assert query_count(lambda: client.get(account_url(alice))) == short


def test_the_staff_patient_page_links_billing_staff_to_the_account(bw: BillingWorld) -> None:
    patient_page = reverse("staff:patient", args=[bw.world.alice.pk])
    assert account_url(bw.world.alice) in as_user(bw.clerk).get(patient_page).content.decode()
    clinician_sees = as_user(bw.world.clinician).get(patient_page)
    assert clinician_sees.status_code == 200
    assert account_url(bw.world.alice) not in clinician_sees.content.decode()


def test_looking_at_a_never_billed_patient_opens_no_account(bw: BillingWorld) -> None:
    bob = bw.world.bob
    client = as_user(bw.clerk)
    pages = ["account", "guarantor", "charge", "adjustment", "statement_new", "claim_new"]
    for name in pages:
        response = client.get(reverse(f"staff_billing:{name}", args=[bob.pk]))
        assert response.status_code == 200, name
    assert not Account.objects.filter(patient=bob).exists()
    page = client.get(account_url(bob)).content.decode()
    assert "None yet: the account opens with the first charge" in page and "$0.00" in page
    events = AuditEvent.objects.filter(action="billing.staff_account_view", patient=bob)
    assert events.count() == len(pages) + 1 and not events.exclude(object_id="").exists()
    refused = client.post(
        reverse("staff_billing:adjustment", args=[bob.pk]),
        {"key": "adjust-key-0123456789", "amount": "5.00", "reason": "Goodwill"},
    )
    assert refused.status_code == 400  # nothing to take off a balance of zero
    posted = client.post(
        reverse("staff_billing:charge", args=[bob.pk]),
        {"service_date": "2026-01-05", "key": "charge-key-0123456789", "code": "99213"}
        | {"description": "Office visit", "amount": "80.00"},
    )
    assert posted.status_code == 302
    assert Account.objects.filter(patient=bob).count() == 1
