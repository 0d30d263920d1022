"""The transactions page: the ledger newest first, a running balance, filters, keyset pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.billing import ledger, overview
from portal.billing.models import LedgerEntry
from portal.billing.tests.overview_support import billed_statement, persona, signed_in
from portal.billing.tests.support import BillingWorld, access_for, bill, billing_world, pay
from portal.test import World, query_count

pytestmark = pytest.mark.django_db

URL = "/billing/transactions/"


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def listing(bw: BillingWorld, who: str = "patient", **query: str) -> str:
    response = signed_in(persona(bw, who)).get(URL, query)
    assert response.status_code == 200
    return response.content.decode()


def rows_of(page: str) -> int:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>") if "<tbody>" in page else 0


def test_the_route_keeps_its_address() -> None:
    assert reverse("billing:transactions") == URL


def test_every_kind_of_entry_is_listed_with_its_signed_amount(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00, description="Office visit")
    payment = pay(bw.world.alice_user, alice, 30_00)
    ledger.post(ledger.account_for(alice), "refund", 5_00, description="Refund of an overpayment")
    page = listing(bw)
    assert "Current balance: <strong>$55.00</strong>" in page
    for kind in ("Charge", "Insurance payment", "Adjustment", "Payment", "Refund"):
        assert f"<td>{kind}</td>" in page
    for amount in ("$250.00", "\u2212$150.00", "\u2212$20.00", "\u2212$30.00", "$5.00"):
        assert f'<td class="num">{amount}</td>' in page
    # Newest first: the refund, then the payment, ..., the charge last.
    assert page.index("Refund of an overpayment") < page.index(payment.entries.get().description)
    assert rows_of(page) == 5


def test_each_row_says_the_balance_after_it(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 100_00, insurance_cents=60_00)  # +100, -60
    pay(bw.world.alice_user, alice, 15_00)  # -15
    page = listing(bw)
    body = page.split("<tbody>", 1)[1]
    # Newest first: after the payment 25, after insurance 40, after the charge 100.
    assert body.index("$25.00") < body.index("$40.00") < body.index("$100.00</td>\n      </tr>")
    assert "Balance after" in page


def test_the_running_balance_continues_across_pages(
    bw: BillingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "ENTRIES_PAGE", 3)
    alice = bw.world.alice
    for cents in (10_00, 20_00, 40_00, 80_00, 160_00):
        bill(alice, cents)
    account = ledger.account_for(alice)
    entries = list(LedgerEntry.objects.filter(account=account).order_by("-posted_at", "-id"))
    page, rows = overview.ledger_page(
        account, "", overview.LedgerFilter(), access_for(bw.world.alice_user, alice)
    )
    assert [row.balance_after_cents for row in rows] == [310_00, 150_00, 70_00]
    page2, rows2 = overview.ledger_page(
        account, page.next_cursor, overview.LedgerFilter(), access_for(bw.world.alice_user, alice)
    )
    assert [row.entry.pk for row in rows2] == [entry.pk for entry in entries[3:]]
    assert [row.balance_after_cents for row in rows2] == [30_00, 10_00]
    assert page2.next_cursor is None
    html = listing(bw, after=page.next_cursor or "")
    assert "Back to the newest" in html and "$30.00" in html and rows_of(html) == 2


def test_filter_by_kind(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 250_00, insurance_cents=150_00, adjustment_cents=20_00, description="Office visit")
    pay(bw.world.alice_user, alice, 30_00)
    insurance = listing(bw, kind="insurance")
    assert rows_of(insurance) == 1 and "Insurance payment: Office visit" in insurance
    assert "Balance after" not in insurance  # a filtered list has no running balance
    payments = listing(bw, kind="payment")
    assert rows_of(payments) == 1 and "\u2212$30.00" in payments and "Insurance payment:" not in payments
    assert rows_of(listing(bw, kind="charge")) == 1
    assert rows_of(listing(bw, kind="adjustment")) == 1
    assert "No transactions match." in listing(bw, kind="refund")


def test_filter_by_dates(bw: BillingWorld) -> None:
    alice = bw.world.alice
    first = bill(alice, 10_00, description="Early visit")
    bill(alice, 20_00, description="Middle visit")
    last = bill(alice, 30_00, description="Late visit")
    now = timezone.now()
    LedgerEntry.objects.filter(service_line=first).update(posted_at=now - dt.timedelta(days=40))
    LedgerEntry.objects.filter(service_line=last).update(posted_at=now + dt.timedelta(days=40))
    today = timezone.localdate()
    page = listing(bw, date_from=str(today - dt.timedelta(days=1)), date_to=str(today))
    assert "Middle visit" in page and "Early visit" not in page and "Late visit" not in page
    page = listing(bw, date_to=str(today - dt.timedelta(days=30)))
    assert "Early visit" in page and "Middle visit" not in page
    page = listing(bw, date_from=str(today + dt.timedelta(days=40)), kind="charge")
    assert "Late visit" in page and rows_of(page) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"kind": "bogus"}, "Choose one of the kinds shown."),
        ({"date_from": "2025-13-01"}, "Enter a real date, such as 2027-03-31."),
        ({"date_to": "yesterday"}, "Enter a real date, such as 2027-03-31."),
        ({"date_from": "0001-01-01"}, "Enter a date between 1900 and 2999."),
        ({"date_to": "9999-12-31"}, "Enter a date between 1900 and 2999."),
        ({"date_from": "2025-06-02", "date_to": "2025-06-01"}, "The end date must be on or after"),
        ({"kind": "x" * 5000}, "Choose one of the kinds shown."),
        ({"after": "<script>"}, ""),
        ({"after": str(10**30)}, ""),
        ({"after": "1_99999999999999999999"}, ""),
        ({"after": "abc_def"}, ""),
    ],
)
def test_bad_filters_are_explained_not_a_crash(bw: BillingWorld, query: dict[str, str], message: str) -> None:
    bill(bw.world.alice, 10_00, description="Some visit")
    page = listing(bw, **query)
    assert message in page
    assert "Some visit" in page  # the list stays, unfiltered
    if message:
        assert "There is a problem" in page


def test_the_filter_travels_with_the_pages(bw: BillingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "ENTRIES_PAGE", 2)
    for _ in range(3):
        bill(bw.world.alice, 10_00)
    page = listing(bw, kind="charge")
    assert "?kind=charge&amp;after=" in page


def test_a_patient_without_an_account(bw: BillingWorld) -> None:
    page = listing(bw, "other_patient")
    assert "You have no bills, so there are no transactions yet." in page


def test_the_proxy_with_the_billing_scope_sees_the_ledger_and_their_payment(bw: BillingWorld) -> None:
    alice = bw.world.alice
    billed_statement(alice)
    pay(bw.payer, alice, 25_00)
    page = listing(bw, "payer")
    assert "\u2212$25.00" in page and "Current balance: <strong>$55.00</strong>" in page
    event = AuditEvent.objects.get(action="billing.transactions_view")
    assert (event.actor_id, event.patient_id, event.actor_role) == (bw.payer.pk, alice.pk, "proxy")
    assert event.detail == {"count": 4}


def test_who_may_not_see_bills_is_kept_out(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    response = signed_in(bw.world.proxy_user).get(URL)
    assert response.status_code == 403 and "$250.00" not in response.content.decode()
    assert "$250.00" not in listing(bw, "other_patient")
    for who in ("unassigned_staff", "admin", "clerk"):
        assert signed_in(persona(bw, who)).get(URL)["Location"] == reverse("staff:home")
    response = signed_in(None).get(URL)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert not AuditEvent.objects.filter(
        action="billing.transactions_view", patient_id=bw.world.alice.pk
    ).exists()


def test_the_query_count_does_not_grow(bw: BillingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "ENTRIES_PAGE", 5)
    alice = bw.world.alice
    client = signed_in(bw.world.alice_user)
    for _ in range(3):
        bill(alice, 10_00, insurance_cents=5_00)
    client.get(URL)
    cursor = (
        overview.ledger_page(
            ledger.account_for(alice), "", overview.LedgerFilter(), access_for(bw.world.alice_user, alice)
        )[0].next_cursor
        or ""
    )
    few = query_count(lambda: client.get(URL))
    few_later = query_count(lambda: client.get(URL, {"after": cursor}))
    few_filtered = query_count(lambda: client.get(URL, {"kind": "charge", "date_from": "2020-01-01"}))
    for _ in range(30):
        bill(alice, 10_00, insurance_cents=5_00)
    cursor = (
        overview.ledger_page(
            ledger.account_for(alice), "", overview.LedgerFilter(), access_for(bw.world.alice_user, alice)
        )[0].next_cursor
        or ""
    )
    assert query_count(lambda: client.get(URL)) == few
    assert query_count(lambda: client.get(URL, {"after": cursor})) == few_later
    assert query_count(lambda: client.get(URL, {"kind": "charge", "date_from": "2020-01-01"})) == few_filtered
