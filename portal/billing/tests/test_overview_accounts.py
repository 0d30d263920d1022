"""Accounts you pay for: every patient whose bills the user sees, each balance, and switching to them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.billing import ledger
from portal.billing.models import Account
from portal.billing.tests.overview_support import billed_statement, make_child, persona, signed_in
from portal.billing.tests.support import BillingWorld, bill, billing_world
from portal.patients.models import Scope
from portal.test import World, query_count

pytestmark = pytest.mark.django_db

URL = "/billing/accounts/"


@pytest.fixture
def bw(world: World) -> BillingWorld:
    return billing_world(world)


def accounts_page(bw: BillingWorld, who: str = "patient") -> str:
    response = signed_in(persona(bw, who)).get(URL)
    assert response.status_code == 200
    return response.content.decode()


def test_the_route_keeps_its_address() -> None:
    assert reverse("billing:accounts") == URL


def test_a_parent_sees_their_own_and_their_childs_account(bw: BillingWorld) -> None:
    alice = bw.world.alice
    child = make_child(bw.world.alice_user, alice)
    billed_statement(alice)
    bill(child, 40_00)
    child_account = Account.objects.get(patient=child)
    child_account.guarantor_name = "Alice Able"
    child_account.save(update_fields=["guarantor_name"])
    page = accounts_page(bw)
    assert "Alice Able (you)" in page and "Casey Able" in page
    assert child_account.number in page and Account.objects.get(patient=alice).number in page
    assert "$80.00" in page and "$40.00" in page
    assert page.index("Alice Able (you)") < page.index("Casey Able")
    # Switching to the child's bills is the patient switcher's form, back to the overview.
    assert f'<input type="hidden" name="patient" value="{child.pk}">' in page
    assert f'action="{reverse("switch_patient")}"' in page
    assert f'<input type="hidden" name="next" value="{reverse("billing:overview")}">' in page
    assert "See Casey Able's bills" in page
    events = AuditEvent.objects.filter(action="billing.accounts_view")
    assert sorted(events.values_list("patient_id", flat=True)) == sorted([alice.pk, child.pk])
    assert {event.actor_role for event in events} == {"patient", "proxy"}


def test_switching_shows_the_childs_bills(bw: BillingWorld) -> None:
    child = make_child(bw.world.alice_user, bw.world.alice)
    billed_statement(bw.world.alice)
    bill(child, 40_00)
    client = signed_in(bw.world.alice_user)
    response = client.post(
        reverse("switch_patient"), {"patient": child.pk, "next": reverse("billing:overview")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("billing:overview")
    page = client.get(reverse("billing:overview")).content.decode()
    assert "Casey Able" in page and "$40.00" in page and "$80.00" not in page


def test_a_child_without_bills_and_no_account_opened(bw: BillingWorld) -> None:
    child = make_child(bw.world.alice_user, bw.world.alice)
    page = accounts_page(bw)
    assert "No bills yet." in page and "Casey Able" in page
    assert not Account.objects.filter(patient=child).exists()


def test_a_proxy_without_the_billing_scope_for_a_patient_does_not_list_them(bw: BillingWorld) -> None:
    child = make_child(bw.world.alice_user, bw.world.alice, scopes=[Scope.VIEW])
    page = accounts_page(bw)
    assert "Casey Able" not in page.split("<h1>", 1)[1].split("Back to billing")[0]
    assert not AuditEvent.objects.filter(action="billing.accounts_view", patient_id=child.pk).exists()
    page = accounts_page(bw, "proxy")  # pat: view and message only, for alice
    assert "You do not see or pay anyone's bills here." in page
    assert not AuditEvent.objects.filter(
        action="billing.accounts_view", actor_id=bw.world.proxy_user.pk
    ).exists()


def test_greta_sees_alices_account(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    page = accounts_page(bw, "payer")
    assert "Alice Able" in page and "$80.00" in page and "(you)" not in page
    assert "Viewing now" in page  # greta acts for alice already
    event = AuditEvent.objects.get(action="billing.accounts_view")
    assert (event.actor_id, event.patient_id, event.actor_role) == (bw.payer.pk, bw.world.alice.pk, "proxy")


def test_another_patient_sees_only_themself(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    page = accounts_page(bw, "other_patient")
    assert "Bob Baker" in page and "Alice Able" not in page and "$80.00" not in page


def test_a_credit_is_marked(bw: BillingWorld) -> None:
    alice = bw.world.alice
    bill(alice, 10_00)
    ledger.post(ledger.account_for(alice), "adjustment", 25_00, description="Credit")
    assert "\u2212$15.00 (a credit)" in accounts_page(bw)


def test_staff_and_anonymous_are_kept_out(bw: BillingWorld) -> None:
    billed_statement(bw.world.alice)
    for who in ("unassigned_staff", "admin", "clerk", "clinician"):
        assert signed_in(persona(bw, who)).get(URL)["Location"] == reverse("staff:home")
    response = signed_in(None).get(URL)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert not AuditEvent.objects.filter(action="billing.accounts_view").exists()


def test_the_query_count_does_not_grow_with_history(bw: BillingWorld) -> None:
    alice = bw.world.alice
    child = make_child(bw.world.alice_user, alice)
    client = signed_in(bw.world.alice_user)
    billed_statement(alice)
    client.get(URL)
    few = query_count(lambda: client.get(URL))
    for _ in range(5):
        billed_statement(alice, (10_00, 0, 0))
        billed_statement(child, (10_00, 0, 0))
    assert query_count(lambda: client.get(URL)) == few
