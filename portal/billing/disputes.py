"""Disputing a bill that came in well above a Good Faith Estimate, and the billing office's decision.

A patient who had a Good Faith Estimate may dispute a statement whose amount billed for
that estimate's services is at least PORTAL_GFE_DISPUTE_THRESHOLD_CENTS ($400) above
the estimate's total (the No Surprises Act's patient-provider dispute). The services
billed "for" an estimate are the statement's lines of the estimate's appointment, and
lines with one of its service codes dated between the day it was made and the day it
expires; what they bill is each line's patient part (the charge less any insurance
payment or adjustment already on it).

The billing office decides: uphold, posting an adjustment by the clinic that lowers the
balance, or decline with a written decision. One dispute per statement is open at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import ledger
from portal.billing.errors import Refused
from portal.billing.models import Dispute, Estimate, LedgerEntry, ServiceLine, Statement
from portal.lib.money import format_cents
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient, notify_staff
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, Role, record_write
from portal.patients.models import Patient, ProxyGrant, Scope

# How many of the account's Good Faith Estimates a statement is compared with (newest first).
RECENT_ESTIMATES = 20
MAX_REASON = 4000


class DisputeRefused(Refused):
    """The dispute (or the decision) breaks a rule; `message` says which, for whoever asked."""


@dataclass(frozen=True)
class Comparison:
    """A statement against one Good Faith Estimate: what was billed for its services, and the difference."""

    estimate: Estimate
    billed_cents: int
    estimated_cents: int

    @property
    def difference_cents(self) -> int:
        return self.billed_cents - self.estimated_cents

    @property
    def disputable(self) -> bool:
        return self.difference_cents >= settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS


def covers(estimate: Estimate, line: ServiceLine) -> bool:
    """Whether a billed service is one of the estimate's: its appointment, or its codes while it holds."""
    if estimate.appointment_id is not None and line.appointment_id == estimate.appointment_id:
        return True
    codes = {str(item.get("code", "")) for item in estimate.items if isinstance(item, dict)}
    made_on = timezone.localdate(estimate.created_at)
    return line.code in codes and made_on <= line.service_date <= estimate.valid_until


def billed_for(estimate: Estimate, lines: Iterable[ServiceLine]) -> int:
    return sum(max(0, line.patient_cents) for line in lines if covers(estimate, line))


def statement_lines(statement: Statement) -> list[ServiceLine]:
    return list(ServiceLine.objects.filter(statement=statement).order_by("service_date", "id"))


def good_faith_estimates(statement: Statement) -> list[Estimate]:
    """The account's Good Faith Estimates made by the day the statement was issued, newest first."""
    made_by = Estimate.objects.filter(
        account_id=statement.account_id,
        kind=Estimate.Kind.GOOD_FAITH,
        created_at__date__lte=statement.issued_on,
    )
    return list(made_by.order_by("-created_at", "-id")[:RECENT_ESTIMATES])


def comparisons(statement: Statement, lines: list[ServiceLine] | None = None) -> list[Comparison]:
    """The statement against each Good Faith Estimate it bills services of (two queries)."""
    lines = statement_lines(statement) if lines is None else lines
    found = []
    for estimate in good_faith_estimates(statement):
        billed = billed_for(estimate, lines)
        if billed:
            found.append(Comparison(estimate, billed, estimate.total_cents))
    return found


def disputable_estimates(statement: Statement) -> list[Estimate]:
    """Good Faith Estimates this statement bills at least the threshold above, not yet decided: "Dispute this bill"."""
    decided = _decided_estimates(statement)
    return [
        comparison.estimate
        for comparison in comparisons(statement)
        if comparison.disputable and comparison.estimate.pk not in decided
    ]


def _decided_estimates(statement: Statement) -> set[int]:
    """Estimates this statement was already disputed against and decided (upheld or declined)."""
    return set(
        Dispute.objects.filter(statement=statement)
        .exclude(status=Dispute.Status.OPEN)
        .values_list("estimate_id", flat=True)
    )


def open_dispute(statement: Statement) -> Dispute | None:
    return Dispute.objects.filter(statement=statement, status=Dispute.Status.OPEN).first()


def billing_office_users(patient: Patient) -> models.QuerySet[User]:
    """Active members of the billing office, leaving out the patient and their proxies."""
    family = ProxyGrant.objects.active().filter(patient=patient).values("grantee_id")
    return (
        User.objects.filter(
            is_active=True,
            practitioner__active=True,
            practitioner__care_teams__kind=CareTeam.Kind.BILLING_OFFICE,
        )
        .exclude(pk__in=family)
        .exclude(pk=patient.account_id or 0)
        .distinct()
        .order_by("pk")
    )


def _short_of_threshold(comparison: Comparison) -> str:
    threshold = format_cents(settings.PORTAL_GFE_DISPUTE_THRESHOLD_CENTS)
    if comparison.difference_cents <= 0:
        return _("This bill is not above your Good Faith Estimate %(number)s, so it cannot be disputed.") % {
            "number": comparison.estimate.number
        }
    return _(
        "This bill is %(difference)s above your Good Faith Estimate %(number)s. A bill can be disputed "
        "when it is %(threshold)s or more above the estimate."
    ) % {
        "difference": format_cents(comparison.difference_cents),
        "number": comparison.estimate.number,
        "threshold": threshold,
    }


@transaction.atomic
def do_open_dispute(
    actor: Actor, access: PatientAccess, statement: Statement, estimate: Estimate, reason: str
) -> Dispute:
    """The patient (or a proxy with the billing scope) disputes a bill against a Good Faith Estimate."""
    if access.is_staff_access or not access.allows(Scope.BILLING):
        raise DisputeRefused(_("You cannot dispute bills for this patient."))
    account = ledger.locked(statement.account)  # one dispute opens at a time per account
    if account.patient_id != access.patient.pk or estimate.account_id != account.pk:
        raise DisputeRefused(_("Choose one of your own Good Faith Estimates."))
    if estimate.kind != Estimate.Kind.GOOD_FAITH:
        raise DisputeRefused(_("Only a Good Faith Estimate can be the basis of a dispute."))
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise DisputeRefused(_("Say why you think the bill is wrong, in up to 4,000 characters."))
    if open_dispute(statement) is not None:
        raise DisputeRefused(_("This bill already has a dispute being reviewed."))
    if estimate.pk in _decided_estimates(statement):
        # Decided once: an upheld dispute already lowered the bill, a declined one stands.
        raise DisputeRefused(_("This bill was already reviewed against this estimate."))
    comparison = Comparison(estimate, billed_for(estimate, statement_lines(statement)), estimate.total_cents)
    if not comparison.disputable:
        raise DisputeRefused(_short_of_threshold(comparison))
    dispute = Dispute.objects.create(
        account=account,
        statement=statement,
        estimate=estimate,
        billed_cents=comparison.billed_cents,
        estimated_cents=comparison.estimated_cents,
        reason=reason,
        created_by=actor.user,
    )
    record_write(
        actor,
        access,
        "billing.dispute_open",
        obj=dispute,
        detail={
            "statement": statement.number,
            "estimate": estimate.number,
            "billed_cents": dispute.billed_cents,
            "estimated_cents": dispute.estimated_cents,
        },
    )
    notify_staff(
        billing_office_users(access.patient),
        key=f"billing.dispute:{dispute.pk}",
        link=reverse("staff_billing:dispute", args=[dispute.pk]),
        title=_("A bill is disputed against a Good Faith Estimate"),
        body=_("Statement %(statement)s is disputed. Review it and decide.")
        % {"statement": statement.number},
        patient=access.patient,
    )
    return dispute


@transaction.atomic
def do_decide_dispute(
    actor: Actor,
    access: PatientAccess,
    dispute: Dispute,
    *,
    uphold: bool,
    adjustment_cents: int = 0,
    decision: str = "",
) -> Dispute:
    """The billing office upholds a dispute (the clinic lowers the bill) or declines it, in writing."""
    if access.role is not Role.STAFF or not access.allows(Scope.BILLING):
        raise DisputeRefused(_("Only the billing office decides disputes."))
    current = (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("statement", "estimate")
        .get(pk=dispute.pk)
    )
    if current.account.patient_id != access.patient.pk:
        raise DisputeRefused(_("This dispute is not this patient's."))
    if current.status != Dispute.Status.OPEN:
        raise DisputeRefused(_("This dispute was already decided."))
    decision = decision.strip()
    if len(decision) > MAX_REASON:
        raise DisputeRefused(_("Write the decision in up to 4,000 characters."))
    over = max(current.billed_cents - current.estimated_cents, 0)
    if uphold and not 0 < adjustment_cents <= over:
        raise DisputeRefused(
            _(
                "The adjustment must be more than $0.00 and at most what was billed above the estimate, %(over)s."
            )
            % {"over": format_cents(over)}
        )
    if not uphold and not decision:
        raise DisputeRefused(_("Write why the bill stands: the patient reads it."))
    if uphold:
        ledger.post(
            current.account,
            LedgerEntry.Kind.ADJUSTMENT,
            adjustment_cents,
            description=_("Bill lowered after your dispute of statement %(statement)s")
            % {"statement": current.statement.number},
            payer=LedgerEntry.Payer.CLINIC,
            reason=decision or _("Good Faith Estimate dispute upheld"),
            posted_by=actor.user,
        )
    current.status = Dispute.Status.UPHELD if uphold else Dispute.Status.DECLINED
    current.adjusted_cents = adjustment_cents if uphold else 0
    current.decision = decision
    current.decided_by = actor.user
    current.decided_at = timezone.now()
    current.save(update_fields=["status", "adjusted_cents", "decision", "decided_by", "decided_at"])
    record_write(
        actor,
        access,
        "billing.dispute_decide",
        obj=current,
        detail={"status": current.status, "adjusted_cents": current.adjusted_cents},
    )
    _tell_patient(current)
    return current


def _tell_patient(dispute: Dispute) -> None:
    number = dispute.statement.number
    amount = format_cents(dispute.adjusted_cents)

    def compose() -> tuple[str, str]:
        if dispute.status == Dispute.Status.UPHELD:
            return _("Your bill was lowered"), _(
                "The billing office reviewed your dispute of statement %(statement)s and lowered your "
                "bill by %(amount)s."
            ) % {"statement": number, "amount": amount}
        return _("Your dispute was decided"), _(
            "The billing office reviewed your dispute of statement %(statement)s. The bill stands; "
            "the decision says why."
        ) % {"statement": number}

    notify_patient(
        dispute.account.patient,
        kind=Kind.BILLING,
        key=f"billing.dispute_decided:{dispute.pk}",
        link=reverse("billing:dispute", args=[dispute.pk]),
        compose=compose,
        event="",
    )
