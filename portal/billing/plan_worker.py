"""The worker's side of payment plans: charging due instalments and sending their notices.

Charging (`charge_due_instalments`, run by the worker): each due instalment is charged
to the plan's saved card through the payment core with the key
`plan-<instalment>-<attempt>`, acting with the access of whoever set the plan up,
decided again at that moment (someone who no longer manages the bills from the side
they set it up on, or who has only break-glass access, stops the plan: nothing is
charged on their word). Each try is claimed with the plan locked (its pending payment
is linked to the instalment), the gateway is asked with no lock held, and the answer is
applied with the plan locked again; a sweep that finds a claimed try asks with its key,
so two sweeps at once, or twice in a row, charge once. An instalment is never more than
the balance still owed; once nothing is owed the rest are cancelled and the plan is paid
off. A declined instalment (or one the payment core refused) tells the patient and is
tried again on each of the next two days the worker runs; then it stops.

A plan the billing office sets up without a card is paid by the patient: the worker
reminds them on each due date to pay online, and counts an instalment paid once their
payments since the plan began cover it and every one before it.

`send_notices` tells the patient `PORTAL_PLAN_NOTICE_DAYS` before each instalment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.audit.log import record
from portal.audit.models import AuditEvent
from portal.billing import ledger, payments
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.models import Account, Funding, Instalment, Payment, PaymentPlan, SavedCard
from portal.billing.plans import (
    PlanStatus,
    Status,
    card_expired,
    creator_access,
    end_plan,
)
from portal.lib.money import format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.patients.access import PatientAccess

# The first try and two more, each on a later day.
MAX_ATTEMPTS = 3
BATCH = 500
# How payments the worker takes for a plan show in the audit trail.
WORKER_AGENT = "portal worker (payment plan)"


@dataclass
class SweepCounts:
    """What one run of the worker did, for the command's output and the task's result."""

    paid: int = 0
    failed: int = 0
    pending: int = 0
    reminded: int = 0
    plans_completed: int = 0
    plans_stopped: int = 0


def charge_due_instalments(today: dt.date | None = None) -> SweepCounts:
    """Charge every instalment due by `today` (and retry declined ones); see the module docstring."""
    today = today or timezone.localdate()
    counts = SweepCounts()
    counts.plans_completed += close_paid_off_plans()
    for instalment_id in due_instalments(today):
        outcome = charge_instalment(instalment_id, today)
        if outcome == "completed":
            counts.plans_completed += 1
        elif outcome == "stopped":
            counts.plans_stopped += 1
        elif outcome in ("paid", "failed", "pending", "reminded"):
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


def due_instalments(today: dt.date) -> list[int]:
    waiting = Q(status=Status.SCHEDULED) | Q(status=Status.FAILED, attempts__lt=MAX_ATTEMPTS)
    return list(
        Instalment.objects.filter(waiting, plan__status=PlanStatus.ACTIVE, due_on__lte=today)
        .order_by("due_on", "plan_id", "number")
        .values_list("pk", flat=True)[:BATCH]
    )


def close_paid_off_plans() -> int:
    """Plans whose account owes nothing more are paid off: nothing is left to charge."""
    closed = 0
    for plan_id in PaymentPlan.objects.filter(
        status=PlanStatus.ACTIVE, account__balance_cents__lte=0
    ).values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            plan = (
                PaymentPlan.objects.select_for_update()
                .filter(pk=plan_id, status=PlanStatus.ACTIVE, account__balance_cents__lte=0)
                .first()
            )
            if plan is not None:
                _complete(plan)
                closed += 1
    return closed


def charge_instalment(instalment_id: int, today: dt.date) -> str:
    """Charge (or re-ask about, or remind of) one instalment; says what happened.

    In three steps, so that no row stays locked while the gateway is asked (it may take
    many seconds, and on SQLite a lock held that long stops every other write):

    1. with the plan and the instalment locked, decide what to charge and claim it: the
       try's pending payment (key `plan-<instalment>-<attempt>`, at most what is owed) is
       made by the payment core, linked to the instalment, and committed;
    2. `payments.do_pay` asks the gateway, outside any transaction. A sweep running at
       the same time finds the claim and asks with the same key, so gets the same charge;
    3. with the rows locked again, the answer is applied, unless another sweep did it first.
    """
    attempt = _begin(instalment_id, today)
    if isinstance(attempt, str):
        return attempt
    try:
        payments.do_pay(attempt.actor, attempt.access, attempt.request(), off_session=True)
    except payments.PaymentRefused as refusal:
        return _settle(attempt, refused=str(refusal))
    return _settle(attempt)


@dataclass(frozen=True)
class Attempt:
    """One try at an instalment, claimed with its plan locked: its pending payment names the key and amount."""

    instalment_id: int
    access: PatientAccess
    payment: Payment

    @property
    def actor(self) -> Actor:
        return Actor(user=self.access.user, user_agent=WORKER_AGENT)

    def request(self) -> payments.PaymentRequest:
        card = self.payment.saved_card
        return payments.PaymentRequest(
            amount_cents=self.payment.amount_cents,
            idempotency_key=self.payment.idempotency_key,
            saved_card=card,
            funding=card.funding if card else Funding.UNKNOWN,
            source=Payment.Source.PLAN,
        )


def _begin(instalment_id: int, today: dt.date) -> Attempt | str:
    """Step 1: what the instalment needs now; an `Attempt` when the gateway must be asked."""
    with transaction.atomic():
        locked = _lock(instalment_id, active_only=True)
        if locked is None:
            return "skipped"
        plan, instalment = locked
        if not _waiting(instalment, today):
            return "skipped"
        card = plan.saved_card
        if card is None:
            return _remind_to_pay(plan, instalment)
        access = creator_access(plan)
        if access is None:
            _stop_without_authority(plan)
            return "stopped"
        return _next_try(plan, card, instalment, access, today)


def _lock(instalment_id: int, *, active_only: bool = False) -> tuple[PaymentPlan, Instalment] | None:
    """The instalment and its plan, locked in that order (the plan first, as everywhere)."""
    plan_id = Instalment.objects.filter(pk=instalment_id).values_list("plan_id", flat=True).first()
    if plan_id is None:
        return None
    queryset = PaymentPlan.objects.select_for_update(of=("self",)).select_related(
        "account__patient__account", "saved_card", "created_by"
    )
    if active_only:
        queryset = queryset.filter(status=PlanStatus.ACTIVE)
    plan = queryset.filter(pk=plan_id).first()
    if plan is None:
        return None
    instalment = (
        Instalment.objects.select_for_update(of=("self",))
        .select_related("payment__saved_card")
        .filter(pk=instalment_id)
        .first()
    )
    return None if instalment is None else (plan, instalment)


def _waiting(instalment: Instalment, today: dt.date) -> bool:
    """Due, and not already tried today (a retry waits for a later day)."""
    if instalment.due_on > today:
        return False
    if instalment.status == Status.SCHEDULED:
        return True
    if instalment.status != Status.FAILED or instalment.attempts >= MAX_ATTEMPTS:
        return False
    last = instalment.payment
    return last is None or timezone.localdate(last.created_at) < today


def _next_try(
    plan: PaymentPlan, card: SavedCard, instalment: Instalment, access: PatientAccess, today: dt.date
) -> Attempt | str:
    """Follow up the try under way, or claim a new one (capped at what is still owed)."""
    earlier = instalment.payment
    if earlier is not None and (instalment.status == Status.SCHEDULED or not _failed(earlier)):
        # A try the gateway has not answered (or another sweep is asking about), or one that
        # `reconcile_pending` has settled since: never replaced by a new one.
        if earlier.is_final:
            return _apply(plan, instalment, earlier)
        return Attempt(instalment.pk, access, earlier)
    account = ledger.locked(plan.account)
    if account.balance_cents <= 0:
        _complete(plan)
        return "completed"
    instalment.attempts += 1
    instalment.status = Status.SCHEDULED
    if card.removed_at is not None or card_expired(card, today):
        # Trying again cannot help: the card is gone. Nothing was charged.
        reason = _("The card for this plan has expired.") if card_expired(card, today) else ""
        return _fail(plan, instalment, reason or _("The card for this plan was removed."), final=True)
    # Never more than is still owed: a plan charge skips the payment core's own check.
    instalment.amount_cents = min(instalment.amount_cents, account.balance_cents)
    request = payments.PaymentRequest(
        amount_cents=instalment.amount_cents,
        idempotency_key=attempt_key(instalment.pk, instalment.attempts),
        saved_card=card,
        funding=card.funding,
        source=Payment.Source.PLAN,
    )
    actor = Actor(user=access.user, user_agent=WORKER_AGENT)
    try:
        # The payment core's first step (claim the key), here under the plan's lock.
        instalment.payment = payments.claim_payment(actor, access, request, configured_gateway().name)
    except payments.PaymentRefused as refusal:
        return _fail(plan, instalment, str(refusal))
    instalment.save()
    return Attempt(instalment.pk, access, instalment.payment)


def _failed(payment: Payment) -> bool:
    return payment.is_final and not payment.succeeded


def attempt_key(instalment_id: int, attempt: int) -> str:
    """The payment key of one try at an instalment: `plan-<instalment>-<attempt>` (the id is
    zero-padded to the payment core's sixteen-character minimum)."""
    return f"plan-{instalment_id:010d}-{attempt}"


def _settle(attempt: Attempt, *, refused: str = "") -> str:
    """Step 3: apply how the try ended (or the payment core's refusal), unless another sweep did."""
    with transaction.atomic():
        locked = _lock(attempt.instalment_id)
        if locked is None:
            return "skipped"
        plan, instalment = locked
        payment = instalment.payment
        if payment is None or payment.pk != attempt.payment.pk:
            return "skipped"
        if payment.succeeded:
            # The money moved: the instalment is paid, even if the plan ended meanwhile.
            return "skipped" if instalment.status == Status.PAID else _apply(plan, instalment, payment)
        if instalment.status != Status.SCHEDULED or plan.status != PlanStatus.ACTIVE:
            return "skipped"
        if refused and not payment.is_final:
            # Refused before the gateway was asked (the card was removed meanwhile): a failure
            # like a decline, tried again on a later day. `reconcile_pending` settles the payment.
            return _fail(plan, instalment, refused)
        return _apply(plan, instalment, payment)


def _apply(plan: PaymentPlan, instalment: Instalment, payment: Payment) -> str:
    """Record on the instalment how its payment ended (or that it is still being processed)."""
    instalment.payment = payment
    if not payment.is_final:
        instalment.save()
        _audit_instalment(plan, instalment, "pending")
        return "pending"
    if not payment.succeeded:
        return _fail(
            plan, instalment, payment.failure_message or payments.decline_words(payment.failure_code)
        )
    instalment.status = Status.PAID
    instalment.last_error = ""
    instalment.save()
    _audit_instalment(plan, instalment, "paid")
    if plan.status == PlanStatus.ACTIVE:
        _complete_if_done(plan)
    return "paid"


def _fail(plan: PaymentPlan, instalment: Instalment, reason: str, *, final: bool = False) -> str:
    """Mark the attempt failed and tell the patient; a `final` failure is not tried again."""
    if final:
        instalment.attempts = max(instalment.attempts, MAX_ATTEMPTS)
    instalment.status = Status.FAILED
    instalment.last_error = reason[:300]
    instalment.save()
    _audit_instalment(plan, instalment, "failed")
    _tell_failed(plan, instalment)
    return "failed"


def _tell_failed(plan: PaymentPlan, instalment: Instalment) -> None:
    again = instalment.attempts < MAX_ATTEMPTS

    def compose() -> tuple[str, str]:
        words = {
            "number": instalment.number,
            "amount": format_cents(instalment.amount_cents),
            "date": formats.date_format(instalment.due_on, "DATE_FORMAT"),
            "reason": instalment.last_error,
            "phone": settings.PORTAL_BILLING_PHONE,
        }
        if again:
            body = _(
                "Instalment %(number)s of your payment plan (%(amount)s, due %(date)s) was not paid. "
                "%(reason)s We will try again tomorrow."
            )
        else:
            body = _(
                "Instalment %(number)s of your payment plan (%(amount)s, due %(date)s) was not paid. "
                "%(reason)s We will not try this card again: please pay online or call the billing "
                "office at %(phone)s."
            )
        return _("A payment plan instalment was not paid"), body % words

    notify_patient(
        plan.account.patient,
        kind=Kind.BILLING,
        key=f"billing.plan_failed:{instalment.pk}:{instalment.attempts}",
        link=reverse("billing:plan", args=[plan.pk]),
        compose=compose,
        event="payment_failed",
    )


def _remind_to_pay(plan: PaymentPlan, instalment: Instalment) -> str:
    """A plan without a card: paid once the patient's own payments cover it; otherwise remind once."""
    if plan.account.balance_cents <= 0:
        _complete(plan)
        return "completed"
    if _paid_since(plan) >= _owed_through(instalment):
        instalment.status = Status.PAID
        instalment.save(update_fields=["status"])
        _audit_instalment(plan, instalment, "paid")
        _complete_if_done(plan)
        return "paid"
    if instalment.attempts:
        return "skipped"
    instalment.attempts = 1
    instalment.save(update_fields=["attempts"])
    _audit_instalment(plan, instalment, "reminded")
    notify_patient(
        plan.account.patient,
        kind=Kind.BILLING,
        key=f"billing.plan_due:{instalment.pk}",
        link=reverse("billing:plan", args=[plan.pk]),
        compose=lambda: (
            _("A payment plan instalment is due today"),
            _("Instalment %(number)s of your payment plan, %(amount)s, is due today. Please pay it online.")
            % {"number": instalment.number, "amount": format_cents(instalment.amount_cents)},
        ),
    )
    return "reminded"


def _paid_since(plan: PaymentPlan) -> int:
    """What the account's payers have paid (less refunds) since the plan was set up."""
    paid = Payment.objects.filter(
        account_id=plan.account_id,
        completed_at__gte=plan.created_at,
        status__in=[Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED, Payment.Status.REFUNDED],
    ).aggregate(total=Sum(F("amount_cents") - F("refunded_cents")))["total"]
    return int(paid or 0)


def _owed_through(instalment: Instalment) -> int:
    due = Instalment.objects.filter(plan_id=instalment.plan_id, number__lte=instalment.number).exclude(
        status=Status.CANCELLED
    )
    return int(due.aggregate(total=Sum("amount_cents"))["total"] or 0)


def _complete_if_done(plan: PaymentPlan) -> None:
    left = Instalment.objects.filter(plan=plan, status__in=[Status.SCHEDULED, Status.FAILED]).exists()
    if not left or Account.objects.filter(pk=plan.account_id, balance_cents__lte=0).exists():
        _complete(plan)


def _complete(plan: PaymentPlan) -> None:
    cancelled = end_plan(plan, PlanStatus.COMPLETED)
    record(
        Actor.system(),
        "billing.plan_complete",
        kind=AuditEvent.Kind.WRITE,
        patient=plan.account.patient_id,
        obj=plan,
        detail={"instalments_cancelled": cancelled},
    )


def _stop_without_authority(plan: PaymentPlan) -> None:
    """Whoever set the plan up no longer manages these bills: charge nothing on their word."""
    cancelled = end_plan(plan, PlanStatus.CANCELLED)
    record(
        Actor.system(),
        "billing.plan_cancel",
        kind=AuditEvent.Kind.WRITE,
        patient=plan.account.patient_id,
        obj=plan,
        detail={"instalments_cancelled": cancelled, "reason": "creator_lost_billing_access"},
    )
    notify_patient(
        plan.account.patient,
        kind=Kind.BILLING,
        key=f"billing.plan_stopped:{plan.pk}",
        link=reverse("billing:plan", args=[plan.pk]),
        compose=lambda: (
            _("Payment plan stopped"),
            _(
                "Your payment plan was stopped because the person who set it up no longer manages "
                "these bills. Nothing more will be charged. You can pay online or set up a new plan."
            ),
        ),
    )


def _audit_instalment(plan: PaymentPlan, instalment: Instalment, outcome: str) -> None:
    record(
        Actor(user=plan.created_by, user_agent=WORKER_AGENT) if plan.created_by else Actor.system(),
        "billing.plan_instalment",
        kind=AuditEvent.Kind.WRITE,
        patient=plan.account.patient_id,
        obj=instalment,
        outcome=AuditEvent.Outcome.FAILURE if outcome == "failed" else AuditEvent.Outcome.SUCCESS,
        detail={
            "plan": plan.pk,
            "number": instalment.number,
            "amount_cents": instalment.amount_cents,
            "attempt": instalment.attempts,
            "outcome": outcome,
        },
    )


def send_notices(today: dt.date | None = None) -> int:
    """Tell the patient about each instalment due within the notice days, once; returns how many."""
    today = today or timezone.localdate()
    until = today + dt.timedelta(days=settings.PORTAL_PLAN_NOTICE_DAYS)
    ids = list(
        Instalment.objects.filter(
            plan__status=PlanStatus.ACTIVE,
            status=Status.SCHEDULED,
            notice_sent_at=None,
            due_on__gte=today,
            due_on__lte=until,
        )
        .order_by("due_on", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    return sum(_send_notice(instalment_id) for instalment_id in ids)


def _send_notice(instalment_id: int) -> int:
    with transaction.atomic():
        instalment = (
            Instalment.objects.select_for_update(of=("self",))
            .select_related("plan__account__patient", "plan__saved_card")
            .filter(pk=instalment_id, notice_sent_at=None, status=Status.SCHEDULED)
            .first()
        )
        if instalment is None:
            return 0
        plan = instalment.plan
        card = plan.saved_card

        def compose() -> tuple[str, str]:
            words = {
                "number": instalment.number,
                "amount": format_cents(instalment.amount_cents),
                "date": formats.date_format(instalment.due_on, "DATE_FORMAT"),
                "card": str(card) if card else "",
            }
            if card is None:
                body = _(
                    "Instalment %(number)s of your payment plan, %(amount)s, is due on %(date)s. "
                    "Please pay it online by then."
                )
            else:
                body = _(
                    "Instalment %(number)s of your payment plan, %(amount)s, will be charged to %(card)s "
                    "on %(date)s."
                )
            return _("Payment plan instalment coming up"), body % words

        notify_patient(
            plan.account.patient,
            kind=Kind.BILLING,
            key=f"billing.plan_notice:{instalment.pk}",
            link=reverse("billing:plan", args=[plan.pk]),
            compose=compose,
            # The outbound "plan_notice" wording says a charge is coming; a plan without a
            # card is paid by the patient, so it gets the general billing wording.
            event="plan_notice" if card is not None else "",
        )
        instalment.notice_sent_at = timezone.now()
        instalment.save(update_fields=["notice_sent_at"])
    return 1


def next_work_day(today: dt.date) -> dt.date | None:
    """The first day from `today` on when the worker has something to do for a plan."""
    waiting = Instalment.objects.filter(plan__status=PlanStatus.ACTIVE)
    days: list[dt.date] = []
    due = waiting.filter(status=Status.SCHEDULED).order_by("due_on").values_list("due_on", flat=True).first()
    if due is not None:
        days.append(due)
    unnoticed = (
        waiting.filter(status=Status.SCHEDULED, notice_sent_at=None, due_on__gte=today)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )
    if unnoticed is not None:
        days.append(unnoticed - dt.timedelta(days=settings.PORTAL_PLAN_NOTICE_DAYS))
    if waiting.filter(status=Status.FAILED, attempts__lt=MAX_ATTEMPTS).exists():
        days.append(today + dt.timedelta(days=1))
    return max(min(days), today) if days else None


def has_pending_charges() -> bool:
    """A plan charge the gateway has not answered yet: `reconcile_pending` settles it soon."""
    return Instalment.objects.filter(
        plan__status=PlanStatus.ACTIVE,
        status=Status.SCHEDULED,
        payment__status__in=[Payment.Status.PENDING, Payment.Status.REQUIRES_ACTION],
    ).exists()
