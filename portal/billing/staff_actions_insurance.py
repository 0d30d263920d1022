"""The billing office's insurance work: verifying coverages with their benefits, and claims.

Like every write in `staff_actions.py`: the member of staff's billing access, atomic,
audited with `record_write`; the patient is told about their coverage in the portal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.billing import ledger
from portal.billing.models import Claim, CoverageBenefits, ServiceLine
from portal.billing.staff_actions import BillingRefused, account_of_access, check_staff, patient_link
from portal.lib.money import MAX_CENTS
from portal.notifications.models import Kind
from portal.notifications.send import Compose, notify_patient
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Coverage

VERIFIABLE = (Coverage.Status.PENDING, Coverage.Status.VERIFIED, Coverage.Status.REJECTED)


# Coverage ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benefits:
    """What the insurer says the plan pays, as typed from its answer (cents and a percentage)."""

    deductible_cents: int = 0
    deductible_met_cents: int = 0
    coinsurance_percent: int = 20
    copay_cents: int = 0
    out_of_pocket_max_cents: int = 0
    out_of_pocket_met_cents: int = 0

    @property
    def amounts(self) -> tuple[int, ...]:
        return (
            self.deductible_cents,
            self.deductible_met_cents,
            self.copay_cents,
            self.out_of_pocket_max_cents,
            self.out_of_pocket_met_cents,
        )


def _check_benefits(benefits: Benefits) -> None:
    if any(not 0 <= amount <= MAX_CENTS for amount in benefits.amounts):
        raise BillingRefused(_("Enter amounts of $0.00 or more."))
    if not 0 <= benefits.coinsurance_percent <= 100:
        raise BillingRefused(_("Coinsurance is a percentage from 0 to 100."))
    if benefits.deductible_met_cents > benefits.deductible_cents:
        raise BillingRefused(_("The deductible met cannot be more than the deductible."))
    if benefits.out_of_pocket_met_cents > benefits.out_of_pocket_max_cents:
        raise BillingRefused(_("The out-of-pocket amount met cannot be more than the maximum."))


def _locked_coverage(access: PatientAccess, coverage: Coverage) -> Coverage:
    current = Coverage.objects.select_for_update().filter(pk=coverage.pk, patient=access.patient).first()
    if current is None or current.status not in VERIFIABLE:
        raise BillingRefused(_("This coverage is no longer in use, so it cannot be checked."))
    return current


@transaction.atomic
def do_verify_coverage(
    actor: Actor, access: PatientAccess, coverage: Coverage, benefits: Benefits
) -> CoverageBenefits:
    """Mark a coverage checked with the insurer and keep what it pays; the patient is told."""
    check_staff(access)
    _check_benefits(benefits)
    current = _locked_coverage(access, coverage)
    now = timezone.now()
    current.status = Coverage.Status.VERIFIED
    current.verified_by = actor.user
    current.verified_at = now
    current.save(update_fields=["status", "verified_by", "verified_at", "updated_at"])
    kept, _created = CoverageBenefits.objects.update_or_create(
        coverage=current,
        defaults={
            "deductible_cents": benefits.deductible_cents,
            "deductible_met_cents": benefits.deductible_met_cents,
            "coinsurance_percent": benefits.coinsurance_percent,
            "copay_cents": benefits.copay_cents,
            "out_of_pocket_max_cents": benefits.out_of_pocket_max_cents,
            "out_of_pocket_met_cents": benefits.out_of_pocket_met_cents,
            "updated_by": actor.user,
            "updated_at": now,
        },
    )
    record_write(
        actor, access, "billing.staff_coverage_verify", obj=current, detail={"status": current.status}
    )
    payer = current.payer_name
    _tell_about_coverage(
        access,
        current,
        now,
        lambda: (
            _("Insurance checked"),
            _("We checked your %(payer)s coverage with the insurer. Your estimates now use it.")
            % {"payer": payer},
        ),
    )
    return kept


@transaction.atomic
def do_reject_coverage(actor: Actor, access: PatientAccess, coverage: Coverage, reason: str) -> Coverage:
    """The insurer could not confirm the coverage; the patient is told why and what to do."""
    check_staff(access)
    if not reason.strip():
        raise BillingRefused(_("Say why the coverage could not be verified."))
    current = _locked_coverage(access, coverage)
    now = timezone.now()
    current.status = Coverage.Status.REJECTED
    current.verified_by = actor.user
    current.verified_at = now
    current.save(update_fields=["status", "verified_by", "verified_at", "updated_at"])
    record_write(
        actor,
        access,
        "billing.staff_coverage_reject",
        obj=current,
        detail={"status": current.status, "reason": reason.strip()[:300]},
    )
    payer, why = current.payer_name, reason.strip()[:300]
    _tell_about_coverage(
        access,
        current,
        now,
        lambda: (
            _("Insurance could not be verified"),
            _("We could not verify your %(payer)s coverage: %(why)s Please check the details you gave us.")
            % {"payer": payer, "why": why},
        ),
    )
    return current


def _tell_about_coverage(
    access: PatientAccess, coverage: Coverage, now: dt.datetime, compose: Compose
) -> None:
    notify_patient(
        access.patient,
        kind=Kind.BILLING,
        key=f"billing.coverage:{coverage.pk}:{coverage.status}:{int(now.timestamp())}",
        link=patient_link("billing:insurance", "billing:overview"),
        compose=compose,
    )


# Claims -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimEntry:
    """A claim sent to an insurer, and what it decided, as the billing office records it."""

    number: str
    payer_name: str
    service_date: dt.date
    submitted_on: dt.date
    status: str
    billed_cents: int
    paid_cents: int = 0
    adjusted_cents: int = 0
    decided_on: dt.date | None = None
    denial_reason: str = ""
    coverage: Coverage | None = None
    lines: tuple[ServiceLine, ...] = ()


@transaction.atomic
def do_record_claim(actor: Actor, access: PatientAccess, entry: ClaimEntry) -> Claim:
    """Record a claim and link its service lines, so the patient sees what insurance paid on it.

    The money itself is in the ledger through the service lines (their insurance paid
    and adjusted amounts); a claim records the insurer's decision and moves no money.
    """
    check_staff(access)
    account = ledger.locked(account_of_access(access))
    if entry.status not in Claim.Status.values:
        raise BillingRefused(_("Choose the claim's status."))
    amounts = (entry.billed_cents, entry.paid_cents, entry.adjusted_cents)
    if any(not 0 <= amount <= MAX_CENTS for amount in amounts) or entry.billed_cents == 0:
        raise BillingRefused(_("Enter a billed amount more than $0.00, and amounts of $0.00 or more."))
    if entry.paid_cents + entry.adjusted_cents > entry.billed_cents:
        raise BillingRefused(_("Paid and adjusted cannot be more than was billed."))
    if entry.coverage is not None and entry.coverage.patient_id != access.patient.pk:
        raise BillingRefused(_("That coverage is another patient's."))
    line_ids = [line.pk for line in entry.lines]
    free = ServiceLine.objects.filter(account=account, claim__isnull=True, pk__in=line_ids)
    if free.count() != len(set(line_ids)):
        raise BillingRefused(_("One of the chosen services is already on a claim."))
    if Claim.objects.filter(number=entry.number).exists():
        raise BillingRefused(_("A claim with this number is already recorded."))
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                account=account,
                coverage=entry.coverage,
                number=entry.number[:30],
                payer_name=entry.payer_name[:150],
                service_date=entry.service_date,
                submitted_on=entry.submitted_on,
                decided_on=entry.decided_on,
                status=entry.status,
                billed_cents=entry.billed_cents,
                paid_cents=entry.paid_cents,
                adjusted_cents=entry.adjusted_cents,
                patient_cents=entry.billed_cents - entry.paid_cents - entry.adjusted_cents,
                denial_reason=entry.denial_reason[:300],
            )
    except IntegrityError as error:
        raise BillingRefused(_("A claim with this number is already recorded.")) from error
    free.update(claim=claim)
    record_write(
        actor,
        access,
        "billing.staff_claim",
        obj=claim,
        detail={"status": claim.status, "billed_cents": claim.billed_cents, "lines": sorted(line_ids)},
    )
    return claim
