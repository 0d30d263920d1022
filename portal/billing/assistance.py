"""Financial assistance: a patient applies, the billing office approves a discount or says no.

An approval posts one ledger adjustment, paid by the clinic, of the approved percentage
of the balance at that moment (rounded down to the cent, so it never exceeds the
balance). Each account has at most one open application: the account row is locked while
checking, so two submissions at once store one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import ledger
from portal.billing.errors import Refused
from portal.billing.models import AssistanceApplication, LedgerEntry
from portal.lib.money import format_cents
from portal.lib.uploads import CheckedFile
from portal.notifications.models import Kind
from portal.notifications.send import Compose, notify_patient, notify_staff
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Patient, ProxyGrant

Status = AssistanceApplication.Status
REASON = "Financial assistance"


class Employment:
    """How the applicant's household earns its living (stored as the value)."""

    CHOICES = [
        ("employed", gettext_lazy("Employed full time")),
        ("part_time", gettext_lazy("Employed part time")),
        ("self_employed", gettext_lazy("Self-employed")),
        ("unemployed", gettext_lazy("Not working")),
        ("retired", gettext_lazy("Retired")),
        ("student", gettext_lazy("Student")),
        ("unable", gettext_lazy("Unable to work")),
        ("other", gettext_lazy("Other")),
    ]

    @classmethod
    def label(cls, value: str) -> str:
        return str(dict(cls.CHOICES).get(value, value))


class AssistanceRefused(Refused):
    """An application or decision that cannot be made now; the message says why."""


@dataclass(frozen=True)
class Answers:
    """What the applicant told us about the household."""

    household_size: int
    annual_income_cents: int
    employment: str
    insured: bool
    reason: str


def applications(patient: Patient) -> QuerySet[AssistanceApplication]:
    return AssistanceApplication.objects.filter(account__patient=patient)


def has_open_application(patient: Patient) -> bool:
    return applications(patient).filter(status=Status.SUBMITTED).exists()


def billing_office_people(patient: Patient) -> QuerySet[User]:
    """Active members of the billing office, except anyone on the patient's side."""
    family = ProxyGrant.objects.active().filter(patient=patient).values("grantee")
    people = User.objects.filter(
        is_active=True,
        practitioner__active=True,
        practitioner__care_teams__kind=CareTeam.Kind.BILLING_OFFICE,
    ).exclude(pk__in=family)
    if patient.account_id is not None:
        people = people.exclude(pk=patient.account_id)
    return people.distinct().order_by("pk")


def do_apply_for_assistance(
    actor: Actor, access: PatientAccess, answers: Answers, document: CheckedFile | None = None
) -> AssistanceApplication:
    """Store an application (and its proof, under a random name) and tell the billing office."""
    account = ledger.account_for(access.patient)
    with transaction.atomic():
        ledger.locked(account)
        if has_open_application(access.patient):
            raise AssistanceRefused(_("You already have an application waiting for a decision."))
        application = AssistanceApplication(
            account=account,
            household_size=answers.household_size,
            annual_income_cents=answers.annual_income_cents,
            employment=answers.employment,
            insured=answers.insured,
            reason=answers.reason,
            created_by=actor.user,
        )
        if document is not None:
            name = f"{secrets.token_hex(16)}.{document.extension}"
            application.document.save(name, ContentFile(document.content), save=False)
            application.document_type = document.content_type
        application.save()
        record_write(
            actor,
            access,
            "billing.assistance_apply",
            obj=application,
            detail={"document": bool(document)},
        )
        notify_staff(
            billing_office_people(access.patient),
            key=f"billing.assistance:{application.pk}",
            link=reverse("staff_billing:assistance_detail", args=[application.pk]),
            title=_("New financial assistance application"),
            body=_("%(name)s applied for financial assistance.") % {"name": access.patient.full_name},
            patient=access.patient,
        )
    return application


def _locked_open(application: AssistanceApplication) -> AssistanceApplication:
    current = AssistanceApplication.objects.select_for_update().filter(pk=application.pk).first()
    if current is None or current.status != Status.SUBMITTED:
        raise AssistanceRefused(_("This application has already been decided."))
    return current


def do_approve_assistance(
    actor: Actor,
    access: PatientAccess,
    application: AssistanceApplication,
    discount_percent: int,
    note: str = "",
) -> AssistanceApplication:
    """Approve with a discount: an adjustment (paid by the clinic) of that share of today's balance."""
    if not 1 <= discount_percent <= 100:
        raise AssistanceRefused(_("The discount must be between 1 and 100 percent."))
    with transaction.atomic():
        current = _locked_open(application)
        account = ledger.locked(current.account)
        adjusted = max(account.balance_cents, 0) * discount_percent // 100
        if adjusted > 0:
            ledger.post(
                account,
                LedgerEntry.Kind.ADJUSTMENT,
                adjusted,
                description=f"{REASON} ({discount_percent}%)",
                payer=LedgerEntry.Payer.CLINIC,
                reason=REASON,
                posted_by=actor.user,
            )
        _decide(actor, current, Status.APPROVED, note, discount_percent)
        record_write(
            actor,
            access,
            "billing.assistance_approve",
            obj=current,
            detail={"discount_percent": discount_percent, "adjusted_cents": adjusted},
        )

        def compose() -> tuple[str, str]:
            body = _("We lowered your balance by %(percent)s%% (%(amount)s).") % {
                "percent": discount_percent,
                "amount": format_cents(adjusted),
            }
            return _("Your financial assistance application was approved"), body

        _tell_patient(current, compose)
    return current


def do_deny_assistance(
    actor: Actor, access: PatientAccess, application: AssistanceApplication, reason: str
) -> AssistanceApplication:
    """Say no, with the reason the patient will read."""
    with transaction.atomic():
        current = _locked_open(application)
        _decide(actor, current, Status.DENIED, reason, 0)
        record_write(actor, access, "billing.assistance_deny", obj=current)
        _tell_patient(
            current,
            lambda: (
                _("Your financial assistance application was answered"),
                _("Open Financial assistance to read the billing office's answer."),
            ),
        )
    return current


def _decide(
    actor: Actor, application: AssistanceApplication, status: str, decision: str, discount_percent: int
) -> None:
    application.status = status
    application.decision = decision
    application.discount_percent = discount_percent
    application.decided_by = actor.user
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decision", "discount_percent", "decided_by", "decided_at"])


def _tell_patient(application: AssistanceApplication, compose: Compose) -> None:
    """In-app (with amounts) for everyone with the billing scope; email and text say only the fixed words."""
    notify_patient(
        application.account.patient,
        kind=Kind.BILLING,
        key=f"billing.assistance_decision:{application.pk}",
        link=reverse("billing:assistance"),
        compose=compose,
    )
