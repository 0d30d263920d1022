"""The home page's Billing card: balance, due date and "Pay now", only when there is something to say."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from portal.billing import ledger
from portal.billing.dashboard_cards import RECENT_STATEMENT_DAYS, billing
from portal.billing.tests.overview_support import billed_statement, pay_url, persona, signed_in
from portal.billing.tests.support import BillingWorld, access_for, bill, billing_world, pay
from portal.dashboard.cards import Card
from portal.patients.access import PatientAccess, Role
from portal.patients.models import ALL_SCOPES
from portal.test import World, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def home(bw: BillingWorld, who: str = "patient") -> str:
    response = signed_in(persona(bw, who)).get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def card_of(access: PatientAccess) -> Card | None:
    request = RequestFactory().get("/")
    request.user = access.user
    return billing(request, access)


def test_no_account_no_card(bw: BillingWorld) -> None:
    assert ">Billing</h2>" not in home(bw)
    assert card_of(access_for(bw.world.alice_user, bw.world.alice)) is None


def test_the_card_shows_the_balance_and_the_due_date(bw: BillingWorld) -> None:
    statement = billed_statement(bw.world.alice)
    page = home(bw)
    assert ">Billing</h2>" in page
    assert "Balance due: <strong>$80.00</strong>" in page
    assert f"$80.00 due by {date_format(statement.due_on, 'DATE_FORMAT')}" in page
    assert f'href="{reverse("billing:overview")}"' in page
    address = pay_url()
    if address is None:  # the pay area has not added its page yet: no dead link
        assert "Pay now" not in page
    else:
        assert f'href="{address}"' in page


def test_a_balance_without_a_statement_still_shows(bw: BillingWorld) -> None:
    bill(bw.world.alice, 30_00)
    page = home(bw)
    assert "Balance due: <strong>$30.00</strong>" in page and "due by" not in page


def test_a_recently_paid_statement_shows_then_goes(bw: BillingWorld) -> None:
    alice = bw.world.alice
    statement = billed_statement(alice)
    pay(bw.world.alice_user, alice, 80_00)
    page = home(bw)
    assert "Nothing is owed right now." in page
    assert f"Statement {statement.number} has nothing left to pay." in page
    assert "Pay now" not in page
    old = timezone.localdate() - dt.timedelta(days=RECENT_STATEMENT_DAYS + 1)
    type(statement).objects.filter(pk=statement.pk).update(issued_on=old)
    assert ">Billing</h2>" not in home(bw)


def test_a_credit_shows(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 10_00)
    ledger.post(ledger.account_for(alice), "adjustment", 25_00, description="Credit")
    assert "A credit of <strong>$15.00</strong>" in home(bw)


def test_who_gets_the_card(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    assert "Balance due: <strong>$80.00</strong>" in home(bw, "payer")
    assert ">Billing</h2>" not in home(bw, "proxy")  # pat has no billing scope
    assert ">Billing</h2>" not in home(bw, "other_patient")
    staff = PatientAccess(bw.clerk, bw.world.alice, Role.STAFF, ALL_SCOPES)
    assert card_of(staff) is None


def test_the_card_runs_two_queries_whatever_the_history(bw: BillingWorld) -> None:
    alice = bw.world.alice
    access = access_for(bw.world.alice_user, alice)
    billed_statement(alice)
    assert query_count(lambda: card_of(access)) <= 2
    for _ in range(10):
        billed_statement(alice, (10_00, 0, 0))
        pay(bw.world.alice_user, alice, 1_00)
    assert query_count(lambda: card_of(access)) <= 2
    card = card_of(access)
    assert card is not None and card.context["account"].balance_cents == 80_00 + 10 * 9_00
