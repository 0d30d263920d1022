"""Setting up and cancelling payment plans: the rules, the cards that may be used, the audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import plan_worker, plans
from portal.billing.models import Instalment, Payment, PaymentPlan, SandboxCharge
from portal.billing.tests.plans_support import make_plan, saved_card
from portal.billing.tests.support import access_for, balance, bill, billing_world
from portal.notifications.models import Notification
from portal.patients.access import PatientAccess, Role
from portal.patients.models import ALL_SCOPES
from portal.test import make_world

pytestmark = pytest.mark.django_db
Status = Instalment.Status


@pytest.fixture
def bw():
    world = billing_world(make_world())
    bill(world.world.alice, 300_00)
    return world


def test_a_plan_splits_the_balance_into_monthly_instalments(bw):
    alice = bw.world.alice
    start = timezone.localdate() + dt.timedelta(days=10)
    plan = make_plan(bw.world.alice_user, alice, 300_00, 7, start_on=start)
    rows = list(plan.instalments.order_by("number").values_list("number", "due_on", "amount_cents", "status"))
    assert [row[2] for row in rows] == [42_86, 42_86, 42_86, 42_86, 42_86, 42_85, 42_85]
    assert sum(row[2] for row in rows) == 300_00
    assert rows[0][1] == start
    assert rows[6][1] == plans.add_months(start, 6)
    assert {row[3] for row in rows} == {Status.SCHEDULED}
    assert (plan.status, plan.created_by, plan.instalment_count) == ("active", bw.world.alice_user, 7)
    event = AuditEvent.objects.get(action="billing.plan_create")
    assert (event.patient_id, event.actor_id, event.detail["total_cents"]) == (
        alice.pk,
        plan.created_by_id,
        300_00,
    )
    assert Notification.objects.filter(recipient=bw.world.alice_user, title="Payment plan set up").exists()
    # Setting up charges nothing: the worker does, on the due date.
    assert balance(alice) == 300_00
    assert not SandboxCharge.objects.exists()


def test_a_plan_may_cover_part_of_the_balance(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 150_00, 3)
    assert sum(plan.instalments.values_list("amount_cents", flat=True)) == 150_00


def test_the_first_notice_goes_with_the_plan_when_the_first_payment_is_close(bw):
    soon = make_plan(
        bw.world.alice_user, bw.world.alice, start_on=timezone.localdate() + dt.timedelta(days=2)
    )
    first, second = soon.instalments.order_by("number")[:2]
    assert first.notice_sent_at is not None
    assert second.notice_sent_at is None


@pytest.mark.parametrize(
    ("total", "months", "start_days", "words"),
    [
        (400_00, 3, 0, "more than is owed"),
        (300_00, 13, 0, "from 2 to 12 months"),
        (300_00, 0, 0, "from 2 to 12 months"),
        (299_00, 12, 0, r"at least \$25.00"),
        (50_00, 2, 0, r"cover at least \$100.00"),
        (300_00, 3, 31, "within 30 days"),
        (300_00, 3, -1, "within 30 days"),
    ],
)
def test_plans_outside_the_rules_are_refused_and_change_nothing(bw, total, months, start_days, words):
    with pytest.raises(plans.PlanRefused, match=words):
        make_plan(
            bw.world.alice_user,
            bw.world.alice,
            total,
            months,
            start_on=timezone.localdate() + dt.timedelta(days=start_days),
        )
    assert not PaymentPlan.objects.exists()
    assert not AuditEvent.objects.filter(action="billing.plan_create").exists()


def test_a_small_balance_gets_no_plan(bw):
    bob = bw.world.bob
    bill(bob, 99_99)
    assert plans.plan_options(balance(bob)) == []
    with pytest.raises(plans.PlanRefused, match=r"balance of \$100.00 or more"):
        make_plan(bw.world.bob_user, bob, 99_99, 2)


def test_an_account_has_one_active_plan(bw):
    make_plan(bw.world.alice_user, bw.world.alice, 150_00, 3)
    with pytest.raises(plans.PlanRefused, match="already has a payment plan"):
        make_plan(bw.payer, bw.world.alice, 150_00, 3)
    assert PaymentPlan.objects.count() == 1


def test_a_patient_must_choose_a_card_of_their_own_that_is_current(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    with pytest.raises(plans.PlanRefused, match="Choose a saved card"):
        make_plan(alice_user, alice, no_card=True)
    with pytest.raises(plans.PlanRefused, match="cannot be used"):
        make_plan(alice_user, alice, card=saved_card(bw.payer))
    with pytest.raises(plans.PlanRefused, match="has expired"):
        make_plan(alice_user, alice, card=saved_card(alice_user, expired=True))
    removed = saved_card(alice_user)
    removed.removed_at = timezone.now()
    removed.save()
    with pytest.raises(plans.PlanRefused, match="cannot be used"):
        make_plan(alice_user, alice, card=removed)
    assert not PaymentPlan.objects.exists()


def test_a_proxy_with_the_billing_scope_sets_up_a_plan_on_their_own_card(bw):
    plan = make_plan(bw.payer, bw.world.alice, 300_00, 3)
    assert plan.created_by == bw.payer
    assert plan.saved_card.owner == bw.payer
    event = AuditEvent.objects.get(action="billing.plan_create")
    assert event.actor_role == Role.PROXY.value


def test_a_proxy_without_the_billing_scope_cannot(bw):
    pat = bw.world.proxy_user
    access = access_for(pat, bw.world.alice)
    with pytest.raises(plans.PlanRefused, match="cannot manage bills"):
        plans.do_create_plan(
            Actor(user=pat),
            access,
            total_cents=300_00,
            months=3,
            saved_card=saved_card(pat),
            start_on=timezone.localdate(),
        )
    assert not PaymentPlan.objects.exists()


def test_the_billing_office_uses_the_account_holders_card_or_none(bw):
    alice, clerk = bw.world.alice, bw.clerk
    with pytest.raises(plans.PlanRefused, match="cannot be used"):
        make_plan(clerk, alice, card=saved_card(bw.payer))
    with pytest.raises(plans.PlanRefused, match="cannot be used"):
        make_plan(clerk, alice, card=saved_card(clerk))
    plan = make_plan(clerk, alice, card=saved_card(bw.world.alice_user))
    assert plan.created_by == clerk
    assert AuditEvent.objects.get(action="billing.plan_create").actor_role == Role.STAFF.value
    plans.do_cancel_plan(Actor(user=clerk), access_for(clerk, alice), plan)
    without = make_plan(clerk, alice, no_card=True)
    assert without.saved_card is None
    # The patient hears about a plan someone else set up for them.
    assert (
        Notification.objects.filter(recipient=bw.world.alice_user, title="Payment plan set up").count() == 2
    )


def test_cancelling_stops_what_is_to_come_and_keeps_what_was_paid(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(alice_user, alice, 300_00, 3)
    plan_worker.charge_due_instalments()
    plans.do_cancel_plan(Actor(user=alice_user), access_for(alice_user, alice), plan)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CANCELLED
    assert (plan.cancelled_by, plan.cancelled_at is not None) == (alice_user, True)
    statuses = list(plan.instalments.order_by("number").values_list("status", flat=True))
    assert statuses == [Status.PAID, Status.CANCELLED, Status.CANCELLED]
    assert balance(alice) == 200_00
    assert AuditEvent.objects.filter(action="billing.plan_cancel", patient_id=alice.pk).count() == 1
    # Cancelled plans are not charged, and cancelling twice is refused clearly.
    assert plan_worker.charge_due_instalments(timezone.localdate() + dt.timedelta(days=70)).paid == 0
    with pytest.raises(plans.PlanRefused, match="already ended"):
        plans.do_cancel_plan(Actor(user=alice_user), access_for(alice_user, alice), plan)
    assert Payment.objects.count() == 1


def test_a_plan_can_be_set_up_again_after_cancelling(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    first = make_plan(alice_user, alice, 300_00, 3)
    plans.do_cancel_plan(Actor(user=alice_user), access_for(alice_user, alice), first)
    second = make_plan(alice_user, alice, 300_00, 6)
    assert second.status == "active"


def test_cancelling_another_patients_plan_is_refused(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice)
    bob_access = PatientAccess(bw.world.bob_user, bw.world.bob, Role.SELF, ALL_SCOPES)
    with pytest.raises(plans.PlanRefused, match="not found"):
        plans.do_cancel_plan(Actor(user=bw.world.bob_user), bob_access, plan)
    plan.refresh_from_db()
    assert plan.status == "active"


def test_a_plan_due_today_is_charged_by_the_sweep_queued_when_it_is_set_up(
    bw, django_capture_on_commit_callbacks
):
    alice = bw.world.alice
    with django_capture_on_commit_callbacks(execute=True):
        plan = make_plan(bw.world.alice_user, alice, 300_00, 3)
    first = plan.instalments.get(number=1)
    assert first.status == Status.PAID
    assert first.payment.source == Payment.Source.PLAN
    assert balance(alice) == 200_00
    assert plan.instalments.filter(status=Status.SCHEDULED).count() == 2


def test_a_plan_starting_later_is_not_charged_at_once(bw, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        plan = make_plan(
            bw.world.alice_user, bw.world.alice, start_on=timezone.localdate() + dt.timedelta(days=5)
        )
    assert not plan.instalments.exclude(status=Status.SCHEDULED).exists()
    assert not Payment.objects.exists()


def test_whoever_set_up_the_plan_moves_it_to_another_card_and_failed_instalments_try_again(bw):
    from portal.billing.tests.support import DECLINED

    alice, alice_user = bw.world.alice, bw.world.alice_user
    declined = saved_card(alice_user, DECLINED)
    plan = make_plan(alice_user, alice, 300_00, 3, card=declined)
    plan_worker.charge_due_instalments()
    assert plan.instalments.get(number=1).status == Status.FAILED
    good = saved_card(alice_user)
    access = access_for(alice_user, alice)
    plans.do_change_plan_card(Actor(user=alice_user), access, plan, good)
    plan.refresh_from_db()
    assert plan.saved_card == good
    first = plan.instalments.get(number=1)
    assert (first.status, first.payment, first.attempts) == (Status.SCHEDULED, None, 1)
    assert plan_worker.charge_due_instalments().paid == 1
    first.refresh_from_db()
    assert (first.status, first.attempts, first.payment.saved_card) == (Status.PAID, 2, good)
    assert balance(alice) == 200_00
    assert AuditEvent.objects.get(action="billing.plan_card").detail["previous_card"] == declined.pk


def test_only_the_plans_creator_changes_its_card_and_only_to_their_own(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(bw.payer, alice, 300_00, 3)
    alice_card = saved_card(alice_user)
    with pytest.raises(plans.PlanRefused, match="Only the person who set up"):
        plans.do_change_plan_card(Actor(user=alice_user), access_for(alice_user, alice), plan, alice_card)
    with pytest.raises(plans.PlanRefused, match="cannot be used"):
        plans.do_change_plan_card(Actor(user=bw.payer), access_for(bw.payer, alice), plan, alice_card)
    with pytest.raises(plans.PlanRefused, match="has expired"):
        plans.do_change_plan_card(
            Actor(user=bw.payer), access_for(bw.payer, alice), plan, saved_card(bw.payer, expired=True)
        )
    plan.refresh_from_db()
    assert plan.saved_card.owner == bw.payer
