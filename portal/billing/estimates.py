"""Cost estimates: what a visit or a list of services will cost, and who pays what.

`estimate` is the calculation, a pure function of the price list and the plan's
benefits in integer cents:

- self-pay (no coverage, or the patient chose to pay themself): the self-pay prices,
  as a Good Faith Estimate;
- insured, a visit with a copay: the patient pays the copay, never more than the
  price of the care;
- insured otherwise: what is left of the deductible first, then the coinsurance
  percentage of the rest, rounded half up to the cent (12.5 cents -> 13 cents);
- either way the patient's share is capped by what is left of the out-of-pocket
  maximum (an out-of-pocket maximum of 0 means none is on file), and insurance pays
  the rest;
- insured but the plan's benefits are not on file yet: the full price, as a ceiling.

Everything else here reads the database around it: which coverage counts, the
priced appointment types, saving an estimate.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.billing.access import account_of
from portal.billing.errors import Refused
from portal.billing.models import CoverageBenefits, Estimate, PriceItem
from portal.lib.money import format_cents
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Coverage, Patient, Scope
from portal.scheduling.models import Appointment, VisitType

# An insured estimate holds for 30 days (benefits change as the deductible is met); a
# Good Faith Estimate for 12 months.
INSURED_VALID_DAYS = 30
MAX_SERVICES = 20


@dataclass(frozen=True)
class PricedItem:
    """One service as priced for this estimate."""

    code: str
    description: str
    price_cents: int
    # The service's confidential category (from the price list), kept with a saved estimate.
    sensitivity: str = ""


@dataclass(frozen=True)
class Breakdown:
    """An estimate: the services with their prices, the total, who pays what, and why."""

    items: tuple[PricedItem, ...]
    total_cents: int
    insurance_cents: int
    patient_cents: int
    assumptions: tuple[str, ...]
    good_faith: bool
    coverage: Coverage | None = None

    @property
    def kind(self) -> str:
        return Estimate.Kind.GOOD_FAITH if self.good_faith else Estimate.Kind.INSURED


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest whole number, halves up (both not negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def estimate(
    items: Sequence[PriceItem],
    benefits: CoverageBenefits | None,
    *,
    self_pay: bool,
    coverage: Coverage | None = None,
    on: dt.date | None = None,
) -> Breakdown:
    """Price `items` for a patient with `benefits` (None: not on file), or paying themself.

    `coverage` names the plan in the assumptions when there are no benefits on file (it
    is otherwise `benefits.coverage`); `on` is the price list's date (today).
    """
    on = on or timezone.localdate()
    good_faith = self_pay
    priced = tuple(
        PricedItem(
            item.code,
            item.description,
            max(0, item.self_pay_price_cents if good_faith else item.price_cents),
            item.sensitivity,
        )
        for item in items
    )
    total = sum(item.price_cents for item in priced)
    if good_faith:
        return Breakdown(priced, total, 0, total, tuple(_good_faith_assumptions(on)), True)
    if coverage is None and benefits is not None:
        coverage = benefits.coverage
    said = [_coverage_assumption(coverage)] if coverage is not None else []
    if benefits is None:
        said.append(
            _(
                "We do not have your plan's benefits on file yet, so this is the full price before "
                "insurance: your plan will probably pay part of it."
            )
        )
        return Breakdown(priced, total, 0, total, tuple([*said, _price_list_assumption(on)]), False, coverage)
    patient, why = _patient_share(total, benefits)
    return Breakdown(
        priced,
        total,
        total - patient,
        patient,
        tuple([*said, *why, _price_list_assumption(on)]),
        False,
        coverage,
    )


def _patient_share(total: int, benefits: CoverageBenefits) -> tuple[int, list[str]]:
    """The patient's part of `total` under the plan, and the assumptions it rests on."""
    said: list[str] = []
    if benefits.copay_cents > 0:
        patient = min(max(0, benefits.copay_cents), total)
        said.append(_("A copay of %(copay)s for this visit.") % {"copay": format_cents(benefits.copay_cents)})
    else:
        deductible = max(0, benefits.deductible_cents)
        left = max(0, deductible - max(0, benefits.deductible_met_cents))
        towards_deductible = min(total, left)
        percent = min(100, max(0, benefits.coinsurance_percent))
        patient = towards_deductible + round_half_up((total - towards_deductible) * percent, 100)
        if deductible:
            said.append(
                _("You have %(left)s left of your %(deductible)s deductible.")
                % {"left": format_cents(left), "deductible": format_cents(deductible)}
            )
        said.append(
            _("Coinsurance %(percent)s%% after the deductible, rounded to the nearest cent.")
            % {"percent": percent}
        )
    maximum = max(0, benefits.out_of_pocket_max_cents)
    if maximum:
        remaining = max(0, maximum - max(0, benefits.out_of_pocket_met_cents))
        said.append(
            _("You have %(left)s left before your out-of-pocket maximum of %(maximum)s.")
            % {"left": format_cents(remaining), "maximum": format_cents(maximum)}
        )
        if patient > remaining:
            patient = remaining
            said.append(_("Your share is capped by your out-of-pocket maximum."))
    return patient, said


def _coverage_assumption(coverage: Coverage) -> str:
    plan = " ".join(part for part in (coverage.payer_name, coverage.plan_name) if part)
    which = coverage.get_priority_display().lower()
    if coverage.status == Coverage.Status.VERIFIED and coverage.verified_at is not None:
        return _("Based on your %(which)s coverage, %(plan)s, verified on %(day)s.") % {
            "which": which,
            "plan": plan,
            "day": formats.date_format(timezone.localdate(coverage.verified_at), "DATE_FORMAT"),
        }
    return _(
        "Based on your %(which)s coverage, %(plan)s, which the clinic has not verified yet: "
        "the estimate may change once it is checked."
    ) % {"which": which, "plan": plan}


def _price_list_assumption(on: dt.date) -> str:
    return _(
        "Prices from the clinic's price list on %(day)s; the final bill depends on the care you receive."
    ) % {"day": formats.date_format(on, "DATE_FORMAT")}


def _good_faith_assumptions(on: dt.date) -> list[str]:
    return [
        _("Self-pay prices, for patients paying without insurance."),
        _price_list_assumption(on),
        _("A Good Faith Estimate: if your bill is %(amount)s or more above this estimate you may dispute it.")
        % {"amount": format_cents(settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS)},
    ]


# Reading what an estimate needs -------------------------------------------------------------


def coverage_in_use(patient: Patient, on: dt.date | None = None) -> Coverage | None:
    """The primary coverage that counts today, with its benefits: a verified one before a pending one."""
    on = on or timezone.localdate()
    found = (
        Coverage.objects.filter(
            patient=patient,
            priority=Coverage.Priority.PRIMARY,
            status__in=[Coverage.Status.VERIFIED, Coverage.Status.PENDING],
        )
        .exclude(effective_until__lt=on)
        .exclude(effective_from__gt=on)
        .select_related("benefits")
        .order_by(
            models.Case(models.When(status=Coverage.Status.VERIFIED, then=0), default=1),
            "-created_at",
            "-id",
        )
    )
    return found.first()


def benefits_of(coverage: Coverage | None) -> CoverageBenefits | None:
    if coverage is None:
        return None
    try:
        return coverage.benefits
    except CoverageBenefits.DoesNotExist:
        return None


def price_list() -> models.QuerySet[PriceItem]:
    return PriceItem.objects.filter(active=True).order_by("description", "code")


def priced_visit_types() -> models.QuerySet[VisitType]:
    """Active appointment types with at least one active service on the price list."""
    return VisitType.objects.filter(active=True, price_items__active=True).distinct().order_by("name", "pk")


def items_of(visit_type: VisitType) -> list[PriceItem]:
    return list(visit_type.price_items.filter(active=True).order_by("code"))


def estimate_for(patient: Patient, items: Sequence[PriceItem], *, self_pay: bool) -> Breakdown:
    """The estimate for the patient: with their primary coverage in use, or a Good Faith Estimate."""
    coverage = None if self_pay else coverage_in_use(patient)
    if coverage is None:
        return estimate(items, None, self_pay=True)
    return estimate(items, benefits_of(coverage), self_pay=False, coverage=coverage)


def visit_estimate(access: PatientAccess, visit_type: VisitType) -> Breakdown | None:
    """What a visit of this type should cost, for pages outside billing (booking, pre-check-in).

    None unless the access has the billing scope and the type is priced. Two queries.
    """
    if not access.allows(Scope.BILLING) or access.is_staff_access:
        return None
    items = items_of(visit_type)
    if not items:
        return None
    return estimate_for(access.patient, items, self_pay=False)


# Saving ---------------------------------------------------------------------------------------


def valid_until(kind: str, on: dt.date) -> dt.date:
    """A Good Faith Estimate holds 12 months, an insured estimate 30 days."""
    if kind != Estimate.Kind.GOOD_FAITH:
        return on + dt.timedelta(days=INSURED_VALID_DAYS)
    try:
        return on.replace(year=on.year + 1)
    except ValueError:  # 29 February
        return on.replace(year=on.year + 1, day=28)


def new_number(kind: str, on: dt.date) -> str:
    prefix = "GFE" if kind == Estimate.Kind.GOOD_FAITH else "EST"
    return f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(4).upper()}"


class EstimateRefused(Refused):
    """The estimate cannot be saved; `message` says why."""


@transaction.atomic
def do_save_estimate(
    actor: Actor,
    access: PatientAccess,
    breakdown: Breakdown,
    *,
    visit_type: VisitType | None = None,
    appointment: Appointment | None = None,
) -> Estimate:
    """Keep the estimate as shown, so a bill can later be compared with it."""
    if access.is_staff_access or not access.allows(Scope.BILLING):
        raise EstimateRefused(_("You cannot save estimates for this patient."))
    if not breakdown.items:
        raise EstimateRefused(_("Choose an appointment type or at least one service."))
    if appointment is not None and appointment.patient_id != access.patient.pk:
        raise EstimateRefused(_("Choose one of your own appointments."))
    today = timezone.localdate()
    saved = Estimate.objects.create(
        account=account_of(access),
        kind=breakdown.kind,
        number=new_number(breakdown.kind, today),
        visit_type=visit_type,
        appointment=appointment,
        coverage=breakdown.coverage,
        items=[
            {
                "code": item.code,
                "description": item.description,
                "price_cents": item.price_cents,
                "sensitivity": item.sensitivity,
            }
            for item in breakdown.items
        ],
        assumptions=list(breakdown.assumptions),
        total_cents=breakdown.total_cents,
        insurance_cents=breakdown.insurance_cents,
        patient_cents=breakdown.patient_cents,
        service_date=timezone.localdate(appointment.starts_at, appointment.campus.zone)
        if appointment
        else None,
        valid_until=valid_until(breakdown.kind, today),
        created_by=actor.user,
    )
    record_write(
        actor,
        access,
        "billing.estimate_save",
        obj=saved,
        detail={"number": saved.number, "kind": saved.kind, "total_cents": saved.total_cents},
    )
    return saved
