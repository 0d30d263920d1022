"""Payment plans: a balance split into monthly instalments that the worker charges.

The rules (settings): a plan covers at least `PORTAL_PLAN_MIN_BALANCE_CENTS` (the
balance, or a chosen part of it), over 2 to `PORTAL_PLAN_MAX_MONTHS` months, with no
instalment under `PORTAL_PLAN_MIN_INSTALMENT_CENTS`; an account has one active plan at
a time (a database constraint). The total splits into whole cents exactly, the larger
instalments first (100.00 over 3 is 33.34, 33.33, 33.33). The first is due today or on
a chosen day within 30 days, then monthly on the same day of the month (the last day of
a shorter month).

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

Whoever set up a plan with a card may move it to another of their cards; instalments
that failed are then tried again with it (at least once, however often they failed).
`send_notices` tells the patient `PORTAL_PLAN_NOTICE_DAYS` before each instalment.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import record
from portal.audit.models import AuditEvent
from portal.billing import ledger, payments
from portal.billing.gateways.registry import configured_name
from portal.billing.gateways.registry import gateway as configured_gateway
from portal.billing.models import Account, Funding, Instalment, Payment, PaymentPlan, SavedCard
from portal.lib.money import MAX_CENTS, format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.patients.access import PatientAccess, Role, decide, is_on_patient_side, record_write
from portal.patients.models import Patient, Scope

MIN_MONTHS = 2
START_WITHIN_DAYS = 30
# The first try and two more, each on a later day.
MAX_ATTEMPTS = 3
BATCH = 500
# How payments the worker takes for a plan show in the audit trail.
WORKER_AGENT = "portal worker (payment plan)"
PlanStatus = PaymentPlan.Status
Status = Instalment.Status


class PlanRefused(Exception):
    """The plan cannot be set up or changed; the text says why, for the person asking."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Rules and schedule ---------------------------------------------------------------------


def split_cents(total_cents: int, months: int) -> list[int]:
    """`total_cents` in `months` whole-cent parts that add up exactly, the larger ones first."""
    base, extra = divmod(total_cents, months)
    return [base + 1 if number < extra else base for number in range(months)]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later, or that month's last day if it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule(total_cents: int, months: int, start_on: dt.date) -> list[tuple[dt.date, int]]:
    """Each instalment's due date and amount."""
    return [
        (add_months(start_on, number), amount)
        for number, amount in enumerate(split_cents(total_cents, months))
    ]


def plan_options(balance_cents: int) -> list[tuple[int, int]]:
    """The plans the rules allow for this amount: (months, the first and largest instalment)."""
    if balance_cents < settings.PORTAL_PLAN_MIN_BALANCE_CENTS or balance_cents > MAX_CENTS:
        return []
    return [
        (months, split_cents(balance_cents, months)[0])
        for months in range(MIN_MONTHS, settings.PORTAL_PLAN_MAX_MONTHS + 1)
        if balance_cents // months >= settings.PORTAL_PLAN_MIN_INSTALMENT_CENTS
    ]


def check_plan(balance_cents: int, total_cents: int, months: int) -> None:
    """Refuse, saying why, a plan the rules do not allow."""
    minimum = settings.PORTAL_PLAN_MIN_BALANCE_CENTS
    if balance_cents < minimum:
        raise PlanRefused(
            _("A payment plan is for a balance of %(minimum)s or more. This account owes %(balance)s.")
            % {"minimum": format_cents(minimum), "balance": format_cents(max(balance_cents, 0))}
        )
    if total_cents > balance_cents:
        raise PlanRefused(
            _("That is more than is owed (%(balance)s). Enter a smaller amount.")
            % {"balance": format_cents(balance_cents)}
        )
    if total_cents < minimum:
        raise PlanRefused(
            _("A payment plan must cover at least %(minimum)s.") % {"minimum": format_cents(minimum)}
        )
    if not MIN_MONTHS <= months <= settings.PORTAL_PLAN_MAX_MONTHS:
        raise PlanRefused(
            _("A payment plan lasts from %(fewest)s to %(most)s months.")
            % {"fewest": MIN_MONTHS, "most": settings.PORTAL_PLAN_MAX_MONTHS}
        )
    smallest = settings.PORTAL_PLAN_MIN_INSTALMENT_CENTS
    if total_cents // months < smallest:
        raise PlanRefused(
            _("Each monthly payment must be at least %(smallest)s. Choose fewer months.")
            % {"smallest": format_cents(smallest)}
        )


def check_start(start_on: dt.date, today: dt.date) -> None:
    if not today <= start_on <= today + dt.timedelta(days=START_WITHIN_DAYS):
        raise PlanRefused(
            _("The first payment must be due today or within %(days)s days.") % {"days": START_WITHIN_DAYS}
        )


def card_expired(card: SavedCard, today: dt.date) -> bool:
    return (card.exp_year, card.exp_month) < (today.year, today.month)


def usable_cards(owner_id: int | None, today: dt.date | None = None) -> models.QuerySet[SavedCard]:
    """The saved cards of `owner_id` a plan may charge: kept, not expired, on the clinic's gateway."""
    if owner_id is None:
        return SavedCard.objects.none()
    today = today or timezone.localdate()
    current = Q(exp_year__gt=today.year) | Q(exp_year=today.year, exp_month__gte=today.month)
    return SavedCard.objects.filter(current, owner_id=owner_id, removed_at=None, gateway=configured_name())


def card_owner_id(access: PatientAccess) -> int | None:
    """Whose saved cards a plan may use: the person's own, or for staff the patient account holder's."""
    return access.patient.account_id if access.is_staff_access else access.user.pk


def check_card(access: PatientAccess, card: SavedCard | None, today: dt.date) -> None:
    if card is None:
        if not access.is_staff_access:
            raise PlanRefused(_("Choose a saved card for the monthly payments."))
        return
    if card.owner_id != card_owner_id(access) or card.removed_at is not None:
        raise PlanRefused(_("That card cannot be used. Choose one of the saved cards shown."))
    if card_expired(card, today):
        raise PlanRefused(_("That card has expired. Choose another card or save a new one."))
    if card.gateway != configured_name():
        raise PlanRefused(_("That card cannot be used. Choose one of the saved cards shown."))


def active_plan(account: Account) -> PaymentPlan | None:
    return PaymentPlan.objects.filter(account=account, status=PlanStatus.ACTIVE).first()


def may_manage_plans(access: PatientAccess | None) -> bool:
    """The billing scope as the patient or their proxy, or as billing staff not on the
    patient's side (not their own or their family's account). Never through break-glass:
    an emergency is no reason to set up, or be charged on the word of, a payment plan."""
    if access is None or not access.allows(Scope.BILLING):
        return False
    if access.role in (Role.SELF, Role.PROXY):
        return True
    return access.role is Role.STAFF and not is_on_patient_side(access.user, access.patient)


def creator_access(plan: PaymentPlan) -> PatientAccess | None:
    """The access of whoever set up a plan with a card, decided now; None if they may no longer
    charge it: they lost the right, or they changed sides (a clerk who became the patient's
    proxy no longer charges the account holder's card on the office's word)."""
    access = decide(plan.created_by, plan.account.patient) if plan.created_by else None
    if access is None or plan.saved_card is None or not may_manage_plans(access):
        return None
    from_the_office = plan.saved_card.owner_id != plan.created_by_id
    return access if access.is_staff_access == from_the_office else None


# Setting up and cancelling -----------------------------------------------------------------


@transaction.atomic
def do_create_plan(
    actor: Actor,
    access: PatientAccess,
    *,
    total_cents: int,
    months: int,
    saved_card: SavedCard | None,
    start_on: dt.date,
) -> PaymentPlan:
    """Split `total_cents` into `months` monthly instalments from `start_on`, charged to `saved_card`."""
    if not may_manage_plans(access):
        raise PlanRefused(_("You cannot manage bills for this patient."))
    today = timezone.localdate()
    account = ledger.locked(ledger.account_for(access.patient))
    check_plan(account.balance_cents, total_cents, months)
    check_start(start_on, today)
    check_card(access, saved_card, today)
    if active_plan(account) is not None:
        raise PlanRefused(_("This account already has a payment plan. Cancel it first to set up a new one."))
    try:
        with transaction.atomic():
            plan = PaymentPlan.objects.create(
                account=account,
                total_cents=total_cents,
                instalment_count=months,
                saved_card=saved_card,
                created_by=access.user,
            )
    except IntegrityError:
        raise PlanRefused(
            _("This account already has a payment plan. Cancel it first to set up a new one.")
        ) from None
    notice_until = today + dt.timedelta(days=settings.PORTAL_PLAN_NOTICE_DAYS)
    now = timezone.now()
    Instalment.objects.bulk_create(
        Instalment(
            plan=plan,
            number=number,
            due_on=due_on,
            amount_cents=amount,
            # The plan's own notice tells of a first instalment due within the notice days.
            notice_sent_at=now if number == 1 and due_on <= notice_until else None,
        )
        for number, (due_on, amount) in enumerate(schedule(total_cents, months, start_on), start=1)
    )
    record_write(
        actor,
        access,
        "billing.plan_create",
        obj=plan,
        detail={
            "total_cents": total_cents,
            "months": months,
            "start_on": start_on.isoformat(),
            "card": saved_card.pk if saved_card else None,
        },
    )
    _tell_plan_created(plan, access.patient, start_on)
    from portal.billing.tasks import schedule_sweep

    transaction.on_commit(schedule_sweep)
    return plan


def _tell_plan_created(plan: PaymentPlan, patient: Patient, start_on: dt.date) -> None:
    amount = split_cents(plan.total_cents, plan.instalment_count)[0]

    def compose() -> tuple[str, str]:
        words = {
            "total": format_cents(plan.total_cents),
            "months": plan.instalment_count,
            "amount": format_cents(amount),
            "date": formats.date_format(start_on, "DATE_FORMAT"),
        }
        if plan.saved_card_id is None:
            body = _(
                "A payment plan for %(total)s over %(months)s months is set up. Pay each instalment "
                "online by its due date; the first, %(amount)s, is due on %(date)s."
            )
        else:
            body = _(
                "A payment plan for %(total)s over %(months)s months is set up. The first "
                "instalment, %(amount)s, will be charged on %(date)s."
            )
        return _("Payment plan set up"), body % words

    notify_patient(
        patient,
        kind=Kind.BILLING,
        key=f"billing.plan_create:{plan.pk}",
        link=reverse("billing:plan", args=[plan.pk]),
        compose=compose,
    )


@transaction.atomic
def do_cancel_plan(actor: Actor, access: PatientAccess, plan: PaymentPlan) -> PaymentPlan:
    """Stop an active plan: instalments still to come are cancelled, paid ones stay paid."""
    if not may_manage_plans(access):
        raise PlanRefused(_("You cannot manage bills for this patient."))
    locked = PaymentPlan.objects.select_for_update().filter(pk=plan.pk).select_related("account").first()
    if locked is None or locked.account.patient_id != access.patient.pk:
        raise PlanRefused(_("This payment plan was not found."))
    if locked.status != PlanStatus.ACTIVE:
        raise PlanRefused(_("This payment plan has already ended."))
    cancelled = _end(locked, PlanStatus.CANCELLED, by=access.user)
    record_write(
        actor, access, "billing.plan_cancel", obj=locked, detail={"instalments_cancelled": cancelled}
    )
    return locked


@transaction.atomic
def do_change_plan_card(
    actor: Actor, access: PatientAccess, plan: PaymentPlan, card: SavedCard
) -> PaymentPlan:
    """Charge another of the card holder's cards from now on (only whoever set the plan up may).

    Instalments that failed are tried again with the new card at the worker's next run.
    """
    locked = PaymentPlan.objects.select_for_update().filter(pk=plan.pk).select_related("account").first()
    if locked is None or locked.account.patient_id != access.patient.pk or not may_manage_plans(access):
        raise PlanRefused(_("This payment plan was not found."))
    if locked.status != PlanStatus.ACTIVE:
        raise PlanRefused(_("This payment plan has already ended."))
    if access.is_staff_access or locked.created_by_id != access.user.pk or locked.saved_card_id is None:
        raise PlanRefused(_("Only the person who set up this plan can change its card."))
    check_card(access, card, timezone.localdate())
    previous = locked.saved_card_id
    locked.saved_card = card
    locked.save(update_fields=["saved_card"])
    # A failed instalment whose payment is still being settled keeps it: it may yet be paid.
    retried = (
        Instalment.objects.filter(plan=locked, status=Status.FAILED)
        .exclude(payment__status__in=[Payment.Status.PENDING, Payment.Status.REQUIRES_ACTION])
        .update(status=Status.SCHEDULED, payment=None, last_error="")
    )
    record_write(
        actor,
        access,
        "billing.plan_card",
        obj=locked,
        detail={"card": card.pk, "previous_card": previous, "retried": retried},
    )
    from portal.billing.tasks import schedule_sweep

    transaction.on_commit(schedule_sweep)
    return locked


def _end(plan: PaymentPlan, status: str, *, by: User | None = None) -> int:
    """Close the plan; instalments not yet paid (or finally failed) are cancelled. Returns how many."""
    to_cancel = [Status.SCHEDULED] if status == PlanStatus.CANCELLED else [Status.SCHEDULED, Status.FAILED]
    cancelled = Instalment.objects.filter(plan=plan, status__in=to_cancel).update(status=Status.CANCELLED)
    plan.status = status
    if status == PlanStatus.CANCELLED:
        plan.cancelled_at = timezone.now()
        plan.cancelled_by = by
    plan.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return cancelled


# The worker: charging and reminding ------------------------------------------------------


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
    cancelled = _end(plan, PlanStatus.COMPLETED)
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
    cancelled = _end(plan, PlanStatus.CANCELLED)
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
