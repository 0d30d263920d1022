"""The worker's side of payment plans: charging due instalments once, retries, notices, the end of a plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing import plan_worker, plans, tasks
from portal.billing.gateways.base import GatewayUnavailable
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Instalment, LedgerEntry, Payment, PaymentPlan, SandboxCharge, SandboxToken
from portal.billing.tests.plans_support import make_plan, saved_card
from portal.billing.tests.support import (
    DECLINED,
    access_for,
    assert_balanced,
    balance,
    bill,
    billing_world,
    pay,
)
from portal.notifications.models import Notification, OutboxMessage
from portal.test import make_world

pytestmark = pytest.mark.django_db
Status = Instalment.Status
TODAY = timezone.localdate
T = TypeVar("T")


def days(count: int) -> dt.date:
    return TODAY() + dt.timedelta(days=count)


def on_day(count: int, call: Callable[[], T]) -> T:
    """`call` run `count` days from now, as the worker would run it then."""
    with time_machine.travel(timezone.now() + dt.timedelta(days=count), tick=True):
        return call()


@pytest.fixture
def bw():
    world = billing_world(make_world())
    bill(world.world.alice, 300_00)
    return world


def statuses(plan: PaymentPlan) -> list[str]:
    return list(plan.instalments.order_by("number").values_list("status", flat=True))


def test_a_due_instalment_is_charged_once_however_often_the_worker_runs(bw):
    alice = bw.world.alice
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3)
    assert plan_worker.charge_due_instalments().paid == 1
    assert plan_worker.charge_due_instalments().paid == 0
    assert plan_worker.charge_due_instalments(days(1)).paid == 0
    first = plan.instalments.get(number=1)
    assert (first.status, first.attempts) == (Status.PAID, 1)
    assert first.payment.idempotency_key == plan_worker.attempt_key(first.pk, 1)
    assert (first.payment.source, first.payment.amount_cents) == (Payment.Source.PLAN, 100_00)
    assert first.payment.created_by == bw.world.alice_user
    assert SandboxCharge.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).count() == 1
    assert balance(alice) == 200_00
    assert_balanced(first.payment.account)
    assert statuses(plan) == [Status.PAID, Status.SCHEDULED, Status.SCHEDULED]
    event = AuditEvent.objects.get(action="billing.plan_instalment")
    assert (event.patient_id, event.detail["outcome"], event.user_agent) == (
        alice.pk,
        "paid",
        plan_worker.WORKER_AGENT,
    )


def test_instalments_are_charged_on_their_days_and_the_last_pays_the_plan_off(bw):
    alice = bw.world.alice
    start = TODAY()
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3, start_on=start)
    plan_worker.charge_due_instalments(start)
    assert plan_worker.charge_due_instalments(plans.add_months(start, 1) - dt.timedelta(days=1)).paid == 0
    assert plan_worker.charge_due_instalments(plans.add_months(start, 1)).paid == 1
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.ACTIVE
    counts = plan_worker.charge_due_instalments(plans.add_months(start, 2))
    assert counts.paid == 1
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.COMPLETED
    assert statuses(plan) == [Status.PAID] * 3
    assert balance(alice) == 0
    assert AuditEvent.objects.filter(action="billing.plan_complete", object_id=str(plan.pk)).count() == 1
    # Receipts for each charge, from the payment core.
    assert Notification.objects.filter(recipient=bw.world.alice_user, title="Payment received").count() == 3


def test_a_worker_that_was_down_catches_up_on_every_missed_instalment(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)
    assert plan_worker.charge_due_instalments(days(100)).paid == 3
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.COMPLETED
    assert SandboxCharge.objects.count() == 3


def test_an_instalment_is_never_more_than_is_still_owed(bw):
    alice = bw.world.alice
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3)
    plan_worker.charge_due_instalments()
    pay(bw.world.alice_user, alice, 150_00)
    assert balance(alice) == 50_00
    assert plan_worker.charge_due_instalments(days(40)).paid == 1
    second = plan.instalments.get(number=2)
    assert (second.amount_cents, second.payment.amount_cents) == (50_00, 50_00)
    assert balance(alice) == 0
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.COMPLETED
    assert statuses(plan) == [Status.PAID, Status.PAID, Status.CANCELLED]


def test_a_plan_whose_balance_was_paid_otherwise_ends_without_a_charge(bw):
    alice = bw.world.alice
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3, start_on=days(5))
    pay(bw.world.alice_user, alice, 300_00)
    counts = plan_worker.charge_due_instalments()
    assert (counts.plans_completed, counts.paid) == (1, 0)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.COMPLETED
    assert statuses(plan) == [Status.CANCELLED] * 3
    assert not Payment.objects.filter(source=Payment.Source.PLAN).exists()


def test_a_declined_instalment_tells_the_patient_and_is_retried_twice_on_later_days(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(alice_user, alice, 300_00, 3, card=saved_card(alice_user, DECLINED))
    assert plan_worker.charge_due_instalments().failed == 1
    first = plan.instalments.get(number=1)
    assert (first.status, first.attempts) == (Status.FAILED, 1)
    assert "declined" in first.last_error
    failed_notice = Notification.objects.get(
        recipient=alice_user, title="A payment plan instalment was not paid"
    )
    assert "We will try again tomorrow" in failed_notice.body
    assert "$100.00" in failed_notice.body
    emails = OutboxMessage.objects.filter(recipient=alice_user, channel=OutboxMessage.Channel.EMAIL)
    assert emails.filter(subject="A scheduled payment did not go through").count() == 1
    # Not again the same day; then once on each of the next two days; then never.
    assert plan_worker.charge_due_instalments().failed == 0
    assert on_day(1, plan_worker.charge_due_instalments).failed == 1
    assert on_day(1, plan_worker.charge_due_instalments).failed == 0
    assert on_day(2, plan_worker.charge_due_instalments).failed == 1
    assert on_day(3, plan_worker.charge_due_instalments).failed == 0
    assert on_day(9, plan_worker.charge_due_instalments).failed == 0
    first.refresh_from_db()
    assert (first.status, first.attempts) == (Status.FAILED, plan_worker.MAX_ATTEMPTS)
    keys = set(Payment.objects.values_list("idempotency_key", flat=True))
    assert keys == {plan_worker.attempt_key(first.pk, attempt) for attempt in (1, 2, 3)}
    assert SandboxCharge.objects.count() == 3
    last = Notification.objects.filter(recipient=alice_user, title="A payment plan instalment was not paid")
    assert last.count() == 3
    assert "We will not try this card again" in last.order_by("-pk").first().body
    assert balance(alice) == 300_00


def test_a_retry_that_succeeds_pays_the_instalment(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    card = saved_card(alice_user, DECLINED)
    plan = make_plan(alice_user, alice, 300_00, 3, card=card)
    plan_worker.charge_due_instalments()
    # The bank lets it through the next day.
    SandboxToken.objects.filter(token=card.method_ref).update(behaviour="succeed")
    assert on_day(1, plan_worker.charge_due_instalments).paid == 1
    first = plan.instalments.get(number=1)
    assert (first.status, first.attempts, first.last_error) == (Status.PAID, 2, "")
    assert balance(alice) == 200_00


def test_an_expired_or_removed_card_fails_without_charging_and_is_not_retried(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    card = saved_card(alice_user)
    plan = make_plan(alice_user, alice, 300_00, 3, card=card)
    card.removed_at = timezone.now()
    card.save()
    assert plan_worker.charge_due_instalments().failed == 1
    assert plan_worker.charge_due_instalments(days(1)).failed == 0
    first = plan.instalments.get(number=1)
    assert (first.status, first.last_error) == (Status.FAILED, "The card for this plan was removed.")
    assert not SandboxCharge.objects.exists()


def test_a_plan_stops_when_whoever_set_it_up_no_longer_manages_the_bills(bw):
    alice = bw.world.alice
    plan = make_plan(bw.payer, alice, 300_00, 3)
    bw.payer_grant.revoked_at = timezone.now()
    bw.payer_grant.save()
    counts = plan_worker.charge_due_instalments()
    assert (counts.plans_stopped, counts.paid) == (1, 0)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CANCELLED
    assert statuses(plan) == [Status.CANCELLED] * 3
    assert not SandboxCharge.objects.exists()
    assert balance(alice) == 300_00
    assert Notification.objects.filter(recipient=bw.world.alice_user, title="Payment plan stopped").exists()
    event = AuditEvent.objects.get(action="billing.plan_cancel")
    assert event.detail["reason"] == "creator_lost_billing_access"


def test_a_billing_office_plan_is_charged_on_the_account_holders_card(bw):
    alice = bw.world.alice
    plan = make_plan(bw.clerk, alice, 300_00, 3, card=saved_card(bw.world.alice_user))
    assert plan_worker.charge_due_instalments().paid == 1
    payment = plan.instalments.get(number=1).payment
    assert (payment.created_by, payment.saved_card.owner) == (bw.clerk, bw.world.alice_user)
    assert balance(alice) == 200_00


def test_a_plan_without_a_card_reminds_on_the_day_and_counts_what_the_patient_pays(bw):
    alice, alice_user = bw.world.alice, bw.world.alice_user
    plan = make_plan(bw.clerk, alice, 300_00, 3, no_card=True)
    assert plan_worker.charge_due_instalments().reminded == 1
    assert plan_worker.charge_due_instalments().reminded == 0
    due_today = Notification.objects.filter(
        recipient=alice_user, title="A payment plan instalment is due today"
    )
    assert due_today.count() == 1
    assert not SandboxCharge.objects.exists()
    first = plan.instalments.get(number=1)
    assert (first.status, first.attempts) == (Status.SCHEDULED, 1)
    pay(alice_user, alice, 60_00)
    assert plan_worker.charge_due_instalments(days(1)).paid == 0
    pay(alice_user, alice, 40_00)
    assert plan_worker.charge_due_instalments(days(1)).paid == 1
    assert statuses(plan) == [Status.PAID, Status.SCHEDULED, Status.SCHEDULED]
    pay(alice_user, alice, 200_00)
    plan_worker.charge_due_instalments(days(2))
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.COMPLETED


def test_an_unanswered_charge_is_asked_again_with_the_same_key(bw, monkeypatch):
    alice = bw.world.alice
    plan = make_plan(bw.world.alice_user, alice, 300_00, 3)
    real_charge = SandboxGateway.charge

    def no_answer(self, **kwargs):
        raise GatewayUnavailable("timeout")

    monkeypatch.setattr(SandboxGateway, "charge", no_answer)
    assert plan_worker.charge_due_instalments().pending == 1
    first = plan.instalments.get(number=1)
    assert (first.status, first.payment.status) == (Status.SCHEDULED, Payment.Status.PENDING)
    assert tasks.next_sweep_at(timezone.now(), after_run=True) <= timezone.now() + tasks.PENDING_RECHECK
    monkeypatch.setattr(SandboxGateway, "charge", real_charge)
    assert plan_worker.charge_due_instalments().paid == 1
    first.refresh_from_db()
    assert (first.status, first.attempts) == (Status.PAID, 1)
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.count() == 1
    assert balance(alice) == 200_00


def test_notices_go_out_the_set_days_before_each_instalment_once(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice, 300_00, 3, start_on=days(10))
    assert plan_worker.send_notices() == 0
    assert plan_worker.send_notices(days(6)) == 0
    assert plan_worker.send_notices(days(7)) == 1
    assert plan_worker.send_notices(days(7)) == 0
    assert plan_worker.send_notices(days(9)) == 0
    first = plan.instalments.get(number=1)
    assert first.notice_sent_at is not None
    notice = Notification.objects.get(recipient=alice_user, title="Payment plan instalment coming up")
    assert "$100.00" in notice.body
    assert "Visa •••• 4242" in notice.body
    email = OutboxMessage.objects.get(
        recipient=alice_user, channel=OutboxMessage.Channel.EMAIL, dedupe_key__contains="plan_notice"
    )
    assert "$" not in email.body
    # A proxy with the billing scope hears too; one without it does not.
    assert Notification.objects.filter(recipient=bw.payer, title="Payment plan instalment coming up").exists()
    assert not Notification.objects.filter(recipient=bw.world.proxy_user).exists()


def test_cancelled_plans_get_no_notices(bw):
    alice_user = bw.world.alice_user
    plan = make_plan(alice_user, bw.world.alice, 300_00, 3, start_on=days(10))
    plans.do_cancel_plan(Actor(user=alice_user), access_for(alice_user, bw.world.alice), plan)
    assert plan_worker.send_notices(days(8)) == 0


def test_the_next_sweep_is_due_at_the_next_notice_or_instalment(bw):
    now = timezone.now()
    assert tasks.next_sweep_at(now) is None
    make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3, start_on=days(10))
    when = tasks.next_sweep_at(now)
    assert timezone.localdate(when) == days(7)
    plan_worker.send_notices(days(7))
    assert timezone.localdate(tasks.next_sweep_at(now)) == days(10)


def test_right_after_a_sweep_the_next_is_tomorrow_at_the_earliest(bw):
    make_plan(bw.clerk, bw.world.alice, 300_00, 3, no_card=True)
    now = timezone.now()
    assert tasks.next_sweep_at(now) == now
    assert timezone.localdate(tasks.next_sweep_at(now, after_run=True)) == days(1)


def test_the_command_runs_the_sweep_and_says_what_it_did(bw, capsys):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)
    call_command("billing_sweep")
    out = capsys.readouterr().out
    assert "Instalments paid: 1" in out
    assert plan.instalments.get(number=1).status == Status.PAID
    call_command("billing_sweep")
    assert "Instalments paid: 0" in capsys.readouterr().out
    assert SandboxCharge.objects.count() == 1


def test_the_task_runs_the_same_sweep(bw):
    plan = make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)
    result = tasks.run_billing_sweep.enqueue()
    assert result.return_value["paid"] == 1
    assert plan.instalments.get(number=1).status == Status.PAID


@override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_the_worker_queue_holds_one_sweep_for_the_next_thing_to_do(bw, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3, start_on=days(10))
    queued = DBTaskResult.objects.filter(task_path=tasks.run_billing_sweep.module_path)
    assert queued.count() == 1
    assert timezone.localdate(queued.get().run_after) == days(7)
    tasks.schedule_sweep()
    tasks.schedule_sweep(after_run=True)
    assert queued.count() == 1


@override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})
def test_a_plan_due_today_queues_a_sweep_to_run_now(bw, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult, get_date_max

    with django_capture_on_commit_callbacks(execute=True):
        make_plan(bw.world.alice_user, bw.world.alice, 300_00, 3)
    queued = DBTaskResult.objects.filter(task_path=tasks.run_billing_sweep.module_path)
    assert list(queued.values_list("run_after", flat=True)) == [get_date_max()]
    tasks.schedule_sweep()
    assert queued.count() == 1
