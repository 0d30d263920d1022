"""Statements: the list (keyset pages) and one statement with its visits, lines and totals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.billing import ledger, overview, statements
from portal.billing.models import Statement
from portal.billing.tests.overview_support import (
    MISSING,
    billed_statement,
    pay_url,
    persona,
    signed_in,
)
from portal.billing.tests.support import BillingWorld, bill, billing_world, pay
from portal.organization.models import Campus
from portal.test import World, assert_same_as_missing, make_patient, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def detail_url(statement_id: int) -> str:
    return reverse("billing:statement", args=[statement_id])


def detail(bw: BillingWorld, statement: Statement, who: str = "patient") -> str:
    response = signed_in(persona(bw, who)).get(detail_url(statement.pk))
    assert response.status_code == 200
    return response.content.decode()


# The list ---------------------------------------------------------------------------------------------


def test_the_list_shows_each_statement_newest_first(bw: BillingWorld) -> None:
    alice = bw.world.alice
    older = billed_statement(alice, issued_on=dt.date(2025, 1, 5))
    newer = billed_statement(alice, (90_00, 0, 0), issued_on=dt.date(2025, 2, 5))
    response = signed_in(bw.world.alice_user).get(reverse("billing:statements"))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index(newer.number) < page.index(older.number)
    assert f'href="{detail_url(newer.pk)}"' in page
    assert f'href="{reverse("billing:statement_pdf", args=[older.pk])}"' in page
    assert "Amount due: $170.00" in page and "Amount due: $80.00" in page
    event = AuditEvent.objects.get(action="billing.statements_view")
    assert event.patient_id == alice.pk and event.detail == {"count": 2}


def test_the_list_is_keyset_paged(bw: BillingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "STATEMENTS_PAGE", 2)
    alice = bw.world.alice
    made = [billed_statement(alice, (10_00, 0, 0), issued_on=dt.date(2025, 1, day)) for day in range(1, 6)]
    client = signed_in(bw.world.alice_user)
    first = client.get(reverse("billing:statements")).content.decode()
    assert made[4].number in first and made[3].number in first and made[2].number not in first
    assert "Show older statements" in first
    cursor = f"{made[3].issued_on.toordinal()}_{made[3].pk}"
    second = client.get(reverse("billing:statements"), {"after": cursor}).content.decode()
    assert made[2].number in second and made[1].number in second and made[3].number not in second
    assert "Back to the newest" in second


@pytest.mark.parametrize("cursor", ["<script>", str(10**30), "1_2_3", "99999999999999999999_1", ""])
def test_a_bad_cursor_starts_again_at_the_newest(bw: BillingWorld, cursor: str) -> None:
    statement = billed_statement(bw.world.alice)
    response = signed_in(bw.world.alice_user).get(reverse("billing:statements"), {"after": cursor})
    assert response.status_code == 200
    assert statement.number in response.content.decode()


def test_the_list_without_an_account(bw: BillingWorld) -> None:
    page = signed_in(bw.world.bob_user).get(reverse("billing:statements")).content.decode()
    assert "You have no statements yet." in page


def test_the_list_query_count_does_not_grow(bw: BillingWorld) -> None:
    alice = bw.world.alice
    client = signed_in(bw.world.alice_user)
    billed_statement(alice)
    client.get(reverse("billing:statements"))
    few = query_count(lambda: client.get(reverse("billing:statements")))
    for _ in range(25):
        billed_statement(alice, (10_00, 0, 0))
    many = query_count(lambda: client.get(reverse("billing:statements")))
    assert few == many


def test_the_list_keeps_out_who_has_no_billing_scope(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    assert signed_in(bw.world.proxy_user).get(reverse("billing:statements")).status_code == 403
    response = signed_in(None).get(reverse("billing:statements"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    staff = signed_in(bw.world.unassigned_staff).get(reverse("billing:statements"))
    assert staff["Location"] == reverse("staff:home")


# One statement ----------------------------------------------------------------------------------------


def test_a_statement_shows_its_numbers_visits_and_lines(bw: BillingWorld) -> None:
    alice = bw.world.alice
    account = ledger.account_for(alice)
    day = dt.date(2025, 3, 3)
    campus = bw.world.campus
    statements.add_service_line(
        account,
        service_date=day,
        visit_label="Annual physical",
        campus=campus,
        code="99396",
        description="Preventive visit",
        charge_cents=300_00,
        insurance_paid_cents=200_00,
        adjustment_cents=50_00,
    )
    statements.add_service_line(
        account,
        service_date=day,
        visit_label="Annual physical",
        campus=campus,
        code="80053",
        description="Metabolic panel",
        charge_cents=60_00,
    )
    statements.add_service_line(
        account,
        service_date=dt.date(2025, 3, 10),
        code="71046",
        description="Chest X-ray",
        charge_cents=120_00,
        insurance_paid_cents=100_00,
    )
    statement = statements.issue_statement(account, issued_on=dt.date(2025, 3, 31))
    page = detail(bw, statement)
    assert statement.number in page
    for text in ("Annual physical", "Rochester", "99396", "Preventive visit", "80053", "Chest X-ray"):
        assert text in page
    # The summary: 480 charged, 300 insurance, 50 adjusted, 130 due.
    for amount in ("$480.00", "\u2212$300.00", "\u2212$50.00", "$130.00"):
        assert amount in page
    # Visit totals: the physical 360 / 200 / 50 / 110; the X-ray 120 / 100 / 0 / 20.
    assert "$360.00" in page and "$110.00" in page and "$20.00" in page
    assert page.index("Annual physical") < page.index("Chest X-ray")
    assert "Patient responsibility" in page
    assert f'href="{reverse("billing:statement_pdf", args=[statement.pk])}"' in page
    assert "Bills are sent to" in page and account.guarantor_name in page
    assert statement.due_on.strftime("%Y") in page


def test_pay_this_statement_links_to_the_pay_page_with_the_statement(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    page = detail(bw, statement)
    address = pay_url()
    if address is None:  # the pay area has not added its page yet: no dead link
        assert "Pay this statement" not in page
    else:
        assert f'href="{address}?statement={statement.pk}"' in page


def test_a_paid_statement_says_so_and_offers_no_payment(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)
    pay(bw.world.alice_user, alice, 30_00)
    assert "<strong>$50.00</strong> of it is left to pay" in detail(bw, statement)
    pay(bw.world.alice_user, alice, 50_00)
    page = detail(bw, statement)
    assert "Nothing is left to pay on this statement." in page
    assert "Pay this statement" not in page


def test_the_view_is_audited_as_the_statement(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    detail(bw, statement, "payer")
    event = AuditEvent.objects.get(action="billing.statement_view")
    assert (event.actor_id, event.patient_id, event.actor_role) == (bw.payer.pk, bw.world.alice.pk, "proxy")
    assert (event.object_type, event.object_id) == ("billing.statement", str(statement.pk))


@pytest.mark.parametrize("who", ["proxy", "other_patient"])
def test_who_may_not_see_alices_bills_gets_the_missing_page(bw: BillingWorld, who: str) -> None:
    statement = billed_statement(bw.world.alice)
    client = signed_in(persona(bw, who))
    response = client.get(detail_url(statement.pk))
    assert response.status_code == 404
    assert_same_as_missing(response, client.get(detail_url(MISSING)))
    assert statement.number not in response.content.decode()
    refused = AuditEvent.objects.filter(action="access.refused", patient_id=bw.world.alice.pk)
    assert refused.exists()
    assert not AuditEvent.objects.filter(action="billing.statement_view").exists()


@pytest.mark.parametrize("who", ["unassigned_staff", "admin", "clerk"])
def test_staff_get_no_statement_on_the_patient_side(bw: BillingWorld, who: str) -> None:
    statement = billed_statement(bw.world.alice)
    client = signed_in(persona(bw, who))
    response = client.get(detail_url(statement.pk))
    assert response.status_code in (302, 404)
    assert_same_as_missing(response, client.get(detail_url(MISSING)))
    assert not AuditEvent.objects.filter(action="billing.statement_view").exists()


def test_a_billing_clerk_who_is_also_a_patient_gets_the_missing_page(bw: BillingWorld) -> None:
    """Staff rights never come onto the patient side: the clerk's own patient page is no way in."""
    make_patient("10000055", "Bill", "Staff", bw.world.campus, account=bw.clerk)
    statement = billed_statement(bw.world.alice)
    client = signed_in(bw.clerk)
    response = client.get(detail_url(statement.pk))
    assert response.status_code == 404
    assert_same_as_missing(response, client.get(detail_url(MISSING)))


def test_anonymous_visitors_sign_in_first(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    response = signed_in(None).get(detail_url(statement.pk))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_a_huge_id_is_a_plain_404(bw: BillingWorld) -> None:
    response = signed_in(bw.world.alice_user).get(f"/billing/statements/{'9' * 30}/")
    assert response.status_code == 404


def test_the_statement_query_count_does_not_grow_with_its_lines(bw: BillingWorld) -> None:
    alice = bw.world.alice
    other = Campus.objects.create(
        slug="phoenix",
        name="Phoenix, Arizona",
        short_name="Phoenix",
        address_line="5777 East Mayo Boulevard",
        city="Phoenix",
        region="AZ",
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0101",
    )
    account = ledger.account_for(alice)
    small = billed_statement(alice, (100_00, 50_00, 0), (20_00, 0, 0))
    for number in range(20):
        statements.add_service_line(
            account,
            service_date=dt.date(2025, 4, 1 + number),
            code=f"9{number:04d}",
            description=f"Service {number}",
            charge_cents=10_00 + number,
            campus=other if number % 2 else bw.world.campus,
            visit_label=f"Visit {number}",
        )
    large = statements.issue_statement(account)
    assert Statement.objects.get(pk=large.pk).lines.count() == 20
    client = signed_in(bw.world.alice_user)
    client.get(detail_url(small.pk))
    few = query_count(lambda: client.get(detail_url(small.pk)))
    many = query_count(lambda: client.get(detail_url(large.pk)))
    assert few == many
    assert "Phoenix" in client.get(detail_url(large.pk)).content.decode()


def test_a_statement_with_no_new_services(bw: BillingWorld) -> None:
    alice = bw.world.alice
    billed_statement(alice)
    pay(bw.world.alice_user, alice, 20_00)
    second = statements.issue_statement(ledger.account_for(alice))
    page = detail(bw, second)
    assert "No new services in this period." in page
    assert "$80.00" in page and "$60.00" in page  # previous balance, then what is due


def test_a_refund_only_period_reads_as_adding_to_the_balance(bw: BillingWorld) -> None:
    alice = bw.world.alice
    account = ledger.account_for(alice)
    bill(alice, 50_00)
    statements.issue_statement(account)
    ledger.post(account, "refund", 10_00, description="Refund")
    second = statements.issue_statement(account)
    assert second.payments_cents == -10_00
    assert "$10.00" in detail(bw, second) and "\u2212$10.00" not in detail(bw, second)
