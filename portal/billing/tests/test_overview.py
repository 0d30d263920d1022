"""The billing overview at /billing/: balance, the latest statement, recent transactions, links."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.billing import ledger, views_overview
from portal.billing.models import Account
from portal.billing.tests.overview_support import billed_statement, pay_url, persona, signed_in
from portal.billing.tests.support import BillingWorld, bill, billing_world, pay
from portal.test import World, query_count

pytestmark = pytest.mark.django_db

OVERVIEW = "/billing/"


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def page_of(bw: BillingWorld, who: str = "patient") -> str:
    response = signed_in(persona(bw, who)).get(reverse("billing:overview"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_route_keeps_its_address() -> None:
    assert reverse("billing:overview") == OVERVIEW


def test_a_patient_without_bills_is_told_so_and_no_account_is_opened(bw: BillingWorld) -> None:
    page = page_of(bw)
    assert "You have no bills." in page
    assert "Balance due" not in page
    assert not Account.objects.filter(patient=bw.world.alice).exists()
    # The other billing pages are still offered (estimates and help matter before a bill).
    assert f'href="{reverse("billing:statements")}"' in page


def test_it_shows_the_balance_the_latest_statement_and_who_is_billed(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)  # 250 - 150 insurance - 20 adjusted = 80 due
    account = Account.objects.get(patient=alice)
    account.guarantor_name = "Greta Able"
    account.save(update_fields=["guarantor_name"])
    page = page_of(bw)
    assert "Balance due" in page and "$80.00" in page
    assert f"Statement {statement.number}: <strong>$80.00</strong> due by" in page
    assert "Bills are sent to: <strong>Greta Able</strong>" in page
    assert account.number in page
    assert f'href="{reverse("billing:statement", args=[statement.pk])}"' in page
    assert "Insurance payment" in page and "Adjustment" in page and "Charge" in page


def test_the_latest_statement_shows_what_is_left_after_payments(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)
    pay(bw.world.alice_user, alice, 30_00)
    page = page_of(bw)
    assert f"Statement {statement.number}: <strong>$50.00</strong> due by" in page
    assert "$50.00" in page


def test_what_is_left_is_capped_at_the_balance(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)  # 80 due
    # A clinic write-off after the statement lowers the balance without being a payment.
    ledger.post(ledger.account_for(alice), "adjustment", 60_00, description="Financial assistance")
    page = page_of(bw)
    assert f"Statement {statement.number}: <strong>$20.00</strong> due by" in page


def test_a_newer_charge_is_not_part_of_the_latest_statement(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)  # 80 due
    bill(alice, 40_00)
    page = page_of(bw)
    assert "$120.00" in page  # the balance
    assert f"Statement {statement.number}: <strong>$80.00</strong> due by" in page


def test_a_paid_statement_and_a_credit(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)
    pay(bw.world.alice_user, alice, 80_00)
    page = page_of(bw)
    assert "has nothing left to pay" in page and statement.number in page
    assert "Nothing is owed right now." in page
    assert "Pay now" not in page
    ledger.post(ledger.account_for(alice), "adjustment", 15_00, description="Goodwill credit")
    page = page_of(bw)
    assert "Credit on the account" in page and "$15.00" in page
    assert "Pay now" not in page


def test_pay_now_appears_when_something_is_owed(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    page = page_of(bw)
    address = pay_url()
    if address is None:  # the pay area has not added its page yet: no dead link
        assert "Pay now" not in page
    else:
        assert f'href="{address}"' in page and "Pay now" in page


def test_links_that_do_not_exist_are_left_out(bw: BillingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        views_overview,
        "BILLING_LINKS",
        (("billing:statements", "Statements"), ("billing:no_such_page", "Nowhere")),
    )
    page = page_of(bw)
    assert f'href="{reverse("billing:statements")}"' in page
    assert "Nowhere" not in page
    assert [label for _, label in views_overview.billing_links()] == ["Statements"]


def test_the_overview_links_to_the_pages_of_this_area(bw: BillingWorld) -> None:
    page = page_of(bw)
    for name in ("billing:statements", "billing:transactions", "billing:accounts"):
        assert f'href="{reverse(name)}"' in page


def test_the_proxy_with_the_billing_scope_sees_alices_bills(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    page = page_of(bw, "payer")
    assert "Alice Able" in page and "$80.00" in page
    event = AuditEvent.objects.get(action="billing.overview_view")
    assert (event.actor_id, event.patient_id, event.actor_role) == (bw.payer.pk, bw.world.alice.pk, "proxy")


def test_a_proxy_without_the_billing_scope_is_told_it_is_not_shared(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    response = signed_in(bw.world.proxy_user).get(OVERVIEW)
    assert response.status_code == 403
    page = response.content.decode()
    assert "This part of the account is not shared with you" in page
    assert "$80.00" not in page
    assert not AuditEvent.objects.filter(action="billing.overview_view").exists()


def test_another_patient_sees_only_their_own(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    page = page_of(bw, "other_patient")
    assert "$80.00" not in page and "You have no bills." in page
    assert not Account.objects.filter(patient=bw.world.bob).exists()


@pytest.mark.parametrize("who", ["unassigned_staff", "admin", "clinician", "clerk"])
def test_staff_are_sent_to_their_workspace(bw: BillingWorld, who: str) -> None:
    billed_statement(bw.world.alice)
    response = signed_in(persona(bw, who)).get(OVERVIEW)
    assert response.status_code == 302 and response["Location"] == reverse("staff:home")


def test_anonymous_visitors_sign_in_first(bw: BillingWorld) -> None:
    response = signed_in(None).get(OVERVIEW)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_it_only_reads(bw: BillingWorld) -> None:
    assert signed_in(bw.world.alice_user).post(OVERVIEW).status_code == 405


def test_the_read_is_audited_in_plain_words(bw: BillingWorld) -> None:
    page_of(bw)
    event = AuditEvent.objects.get(action="billing.overview_view")
    assert (event.actor_id, event.patient_id, event.actor_role) == (
        bw.world.alice_user.pk,
        bw.world.alice.pk,
        "patient",
    )
    assert describe("billing.overview_view") == "looked at your billing summary"


def test_the_query_count_does_not_grow_with_history(bw: BillingWorld) -> None:
    alice = bw.world.alice
    client = signed_in(bw.world.alice_user)
    billed_statement(alice)
    client.get(OVERVIEW)  # the session's first request does its own bookkeeping
    few = query_count(lambda: client.get(OVERVIEW))
    for _ in range(6):
        billed_statement(alice, (100_00, 50_00, 10_00), (30_00, 0, 0))
        pay(bw.world.alice_user, alice, 5_00)
    many = query_count(lambda: client.get(OVERVIEW))
    assert few == many
