"""Payment plans: a balance split into monthly instalments that the worker charges.

The rules (settings): a plan covers at least `PORTAL_PLAN_MIN_BALANCE_CENTS` (the
balance, or a chosen part of it), over 2 to `PORTAL_PLAN_MAX_MONTHS` months, with no
instalment under `PORTAL_PLAN_MIN_INSTALMENT_CENTS`; an account has one active plan at
a time (a database constraint). The total splits into whole cents exactly, the larger
instalments first (100.00 over 3 is 33.34, 33.33, 33.33). The first is due today or on
a chosen day within 30 days, then monthly on the same day of the month (the last day of
a shorter month).

Whoever set up a plan with a card may move it to another of their cards; instalments
that failed are then tried again with it (at least once, however often they failed).
The worker charges them and sends their notices: `plan_worker.py`.
"""

from __future__ import annotations

import calendar
import datetime as dt

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import ledger
from portal.billing.gateways.registry import configured_name
from portal.billing.models import Account, Instalment, Payment, PaymentPlan, SavedCard
from portal.lib.money import MAX_CENTS, format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.patients.access import PatientAccess, Role, decide, is_on_patient_side, record_write
from portal.patients.models import Patient, Scope

MIN_MONTHS = 2
START_WITHIN_DAYS = 30
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
    cancelled = end_plan(locked, PlanStatus.CANCELLED, by=access.user)
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


def end_plan(plan: PaymentPlan, status: str, *, by: User | None = None) -> int:
    """Close the plan; instalments not yet paid (or finally failed) are cancelled. Returns how many."""
    to_cancel = [Status.SCHEDULED] if status == PlanStatus.CANCELLED else [Status.SCHEDULED, Status.FAILED]
    cancelled = Instalment.objects.filter(plan=plan, status__in=to_cancel).update(status=Status.CANCELLED)
    plan.status = status
    if status == PlanStatus.CANCELLED:
        plan.cancelled_at = timezone.now()
        plan.cancelled_by = by
    plan.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return cancelled
