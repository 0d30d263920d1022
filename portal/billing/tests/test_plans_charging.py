"""How the worker charges an instalment: the gateway is asked with no lock held, a second
sweep during the call gets the same charge, a refusal is retried, and only whoever may
still manage the bills (never through break-glass) is charged on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import payments, plan_worker, plans
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Instalment, LedgerEntry, Payment, PaymentPlan, SandboxCharge
from portal.billing.tests.plans_support import make_plan, saved_card
from portal.billing.tests.support import access_for, assert_balanced, balance, bill, billing_world
from portal.notifications.models import Notification, OutboxMessage
from portal.patients.access import Role, decide
from portal.patients.models import BreakGlassAccess, ProxyGrant, Scope
from portal.test import make_world

pytestmark = pytest.mark.django_db
Status = Instalment.Status
REAL_CHARGE = SandboxGateway.charge
REAL_PAY = payments.do_pay


@pytest.fixture
def bw():
    world = billing_world(make_world())
    bill(world.world.alice, 300_00)
    return world


def first_instalment(plan: PaymentPlan) -> Instalment:
    return plan.instalments.select_related("payment").get(number=1)


def while_charging(monkeypatch: pytest.MonkeyPatch, during: Any) -> tuple[list[Any], list[str]]:
    """Run `during()` inside the first gateway call, as another process could.

    Returns what it gave, and the key of each gateway call."""
    seen: list[Any] = []
    calls: list[str] = []

    def charge(self: SandboxGateway, **kwargs: Any) -> Any:
        calls.append(kwargs["idempotency_key"])
        if len(calls) == 1:
            seen.append(during())
        return REAL_CHARGE(self, **kwargs)

    monkeypatch.setattr(SandboxGateway, "charge", charge)
    return seen, calls


@pytest.mark.django_db(transaction=True)
def test_the_gateway_is_asked_with_no_transaction_open_and_the_claim_already_committed(monkeypatch):
    bw = billing_world(make_world())
    bill(bw.world.alice, 300_00)
    # Set up for tomorrow, then made due today: every commit is real here, and a plan due
    # today would be charged at once by the sweep it queues.
    plan = make_plan(
        bw.world.alice_user, bw.world.alice, 300_00, 3, start_on=timezone.localdate() + dt.timedelta(days=1)
    )
    plan.instalments.filter(number=1).update(due_on=timezone.localdate())

    def look() -> tuple[bool, str, int, str]:
        claimed = first_instalment(plan)
        status = claimed.payment.status if claimed.payment else ""
        return (connection.in_atomic_block, claimed.status, claimed.attempts, status)

    seen, _calls = while_charging(monkeypatch, look)
    assert plan_worker.charge_due_instalments().paid == 1
    # No lock held while the card is charged; a concurrent sweep already sees the claimed try.
    assert seen == [(False, Status.SCHEDULED, 1, Payment.Status.PENDING)]
    first = first_instalment(plan)
    assert (first.status, first.payment.status) == (Status.PAID, Payment.Status.SUCCEEDED)
    assert balance(bw.world.alice) == 200_00


def test_a_second_sweep_during_the_gateway_call_gets_the_same_charge(bw, monkeypatch):
    alice = bw.world.alice
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3)
    first_id = first_instalment(plan).pk
    seen, calls = while_charging(
        monkeypatch, lambda: plan_worker.charge_instalment(first_id, timezone.localdate())
    )
    assert plan_worker.charge_instalment(first_id, timezone.localdate()) == "skipped"
    assert seen == ["paid"]
    first = first_instalment(plan)
    # Both asked the gateway, with the one key (a worker's, never a pay form's): one charge.
    key = plan_worker.attempt_key(first.pk, 1)
    assert calls == [key] * 2
    assert payments.KEY_FORMAT.match(key) and not payments.FORM_KEY.match(key)
    assert (first.status, first.attempts) == (Status.PAID, 1)
    assert first.payment.idempotency_key == plan_worker.attempt_key(first.pk, 1)
    assert SandboxCharge.objects.count() == 1
    assert Payment.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert balance(alice) == 200_00
    assert_balanced(first.payment.account)
    outcomes = AuditEvent.objects.filter(action="billing.plan_instalment").values_list("detail", flat=True)
    assert [detail["outcome"] for detail in outcomes] == ["paid"]


def test_a_plan_cancelled_while_its_card_is_charged_keeps_the_payment_and_stays_cancelled(bw, monkeypatch):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(alice_user, alice, 300_00, 3)
    while_charging(
        monkeypatch, lambda: plans.do_cancel_plan(Actor(user=alice_user), access_for(alice_user, alice), plan)
    )
    assert plan_worker.charge_due_instalments().paid == 1
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CANCELLED
    statuses = list(plan.instalments.order_by("number").values_list("status", flat=True))
    assert statuses == [Status.PAID, Status.CANCELLED, Status.CANCELLED]
    assert balance(alice) == 200_00
    assert not AuditEvent.objects.filter(action="billing.plan_complete").exists()


def test_a_sweep_that_dies_after_its_claim_is_finished_later_with_the_same_key(bw, monkeypatch):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)

    def dies(*args: Any, **kwargs: Any) -> Payment:
        raise RuntimeError("the worker was stopped")

    monkeypatch.setattr(payments, "do_pay", dies)
    with pytest.raises(RuntimeError):
        plan_worker.charge_due_instalments()
    claimed = first_instalment(plan)
    assert (claimed.status, claimed.attempts, claimed.payment.status) == (
        Status.SCHEDULED,
        1,
        Payment.Status.PENDING,
    )
    assert plan_worker.has_pending_charges()
    monkeypatch.setattr(payments, "do_pay", REAL_PAY)
    assert plan_worker.charge_due_instalments().paid == 1
    first = first_instalment(plan)
    assert (first.status, first.attempts, first.payment_id) == (Status.PAID, 1, claimed.payment_id)
    assert SandboxCharge.objects.count() == 1
    assert balance(bw.world.alice) == 200_00


def test_a_refused_plan_payment_is_a_failure_tried_again_on_a_later_day(bw, monkeypatch):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(alice_user, alice, 300_00, 3)

    def refuse(*args: Any, **kwargs: Any) -> Payment:
        raise payments.PaymentRefused("Choose one of your saved cards.")

    monkeypatch.setattr(payments, "do_pay", refuse)
    assert plan_worker.charge_due_instalments().failed == 1
    first = first_instalment(plan)
    assert (first.status, first.attempts, first.last_error) == (
        Status.FAILED,
        1,
        "Choose one of your saved cards.",
    )
    notice = Notification.objects.get(recipient=alice_user, title="A payment plan instalment was not paid")
    assert "We will try again tomorrow" in notice.body
    emails = OutboxMessage.objects.filter(recipient=alice_user, channel=OutboxMessage.Channel.EMAIL)
    assert emails.filter(subject="A scheduled payment did not go through").count() == 1
    event = AuditEvent.objects.get(action="billing.plan_instalment")
    assert (event.outcome, event.detail["outcome"]) == (AuditEvent.Outcome.FAILURE, "failed")
    # Not again the same day; tried again the next.
    assert plan_worker.charge_due_instalments().failed == 0
    monkeypatch.setattr(payments, "do_pay", REAL_PAY)
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=True):
        assert plan_worker.charge_due_instalments().paid == 1
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.ACTIVE
    assert first_instalment(plan).status == Status.PAID
    assert SandboxCharge.objects.count() == 1
    assert balance(alice) == 200_00


def test_refusals_count_as_attempts_until_the_last(bw, monkeypatch):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)

    def refuse(*args: Any, **kwargs: Any) -> Payment:
        raise payments.PaymentRefused("Choose one of your saved cards.")

    monkeypatch.setattr(payments, "do_pay", refuse)
    for day in range(5):
        with time_machine.travel(timezone.now() + dt.timedelta(days=day), tick=True):
            payments.reconcile_pending(older_than=dt.timedelta(0))
            plan_worker.charge_due_instalments()
    first = first_instalment(plan)
    assert (first.status, first.attempts) == (Status.FAILED, plan_worker.MAX_ATTEMPTS)
    keys = set(Payment.objects.values_list("idempotency_key", flat=True))
    assert keys == {plan_worker.attempt_key(first.pk, attempt) for attempt in (1, 2, 3)}
    assert not SandboxCharge.objects.exists()


# Whose word the plan is charged on -------------------------------------------------------


def break_glass(bw) -> None:
    """The clerk leaves the billing office but breaks the glass for Alice: billing role scopes, flagged."""
    bw.billing_office.members.clear()
    BreakGlassAccess.objects.create(
        user=bw.clerk,
        patient=bw.world.alice,
        reason="emergency",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    access = decide(bw.clerk, bw.world.alice)
    assert access is not None and access.role is Role.BREAK_GLASS and access.allows(Scope.BILLING)


def test_break_glass_access_cannot_set_up_or_change_a_plan(bw):
    alice, clerk = bw.world.alice, bw.clerk
    plan = make_plan(
        bw.world.alice_user, alice, 300_00, 3, start_on=timezone.localdate() + dt.timedelta(days=5)
    )
    break_glass(bw)
    access = decide(clerk, alice)
    with pytest.raises(plans.PlanRefused, match="cannot manage bills"):
        plans.do_create_plan(
            Actor(user=clerk),
            access,
            total_cents=100_00,
            months=2,
            saved_card=saved_card(bw.world.alice_user),
            start_on=timezone.localdate(),
        )
    with pytest.raises(plans.PlanRefused, match="cannot manage bills"):
        plans.do_cancel_plan(Actor(user=clerk), access, plan)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.ACTIVE
    assert PaymentPlan.objects.count() == 1


def test_a_plan_is_not_charged_on_the_word_of_break_glass_access(bw):
    alice = bw.world.alice
    plan = make_plan(bw.clerk, alice, 300_00, 3, card=saved_card(bw.world.alice_user))
    break_glass(bw)
    counts = plan_worker.charge_due_instalments()
    assert (counts.plans_stopped, counts.paid) == (1, 0)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CANCELLED
    assert not SandboxCharge.objects.exists()
    assert balance(alice) == 300_00
    assert (
        AuditEvent.objects.get(action="billing.plan_cancel").detail["reason"] == "creator_lost_billing_access"
    )


def test_a_clerk_who_becomes_family_no_longer_charges_the_office_plan(bw):
    alice = bw.world.alice
    plan = make_plan(bw.clerk, alice, 300_00, 3, card=saved_card(bw.world.alice_user))
    ProxyGrant.objects.create(
        grantee=bw.clerk,
        patient=alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.BILLING],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    assert plan_worker.charge_due_instalments().plans_stopped == 1
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CANCELLED
    assert not SandboxCharge.objects.exists()
