"""The review team's writes on an e-visit: claim, release, reply, or ask for a visit instead.

Each action is atomic and locks the e-visit row before looking at its status, so two
reviewers clicking "claim" at once, or a double-posted reply, agree on one outcome: one
claim wins, one reply is filed and charged. A reply does everything at once: the
answer, a prescription in the record, an approved referral, a clinical note, the
charge (`add_service_line`, once per e-visit through its `form_key`), the audit events
and the patient's notification commit together or not at all.

`access` is the reviewer's right through the condition's review team
(`patients.access.pool_access`); membership, and a clinical role
(`Practitioner.CLINICAL_ROLES`), are checked again under the lock, so someone who left
the team (or was never a clinician: an interpreter, a scheduler added to it) cannot
answer or charge.

An e-visit in a confidential category (`EVisit.sensitivity`) passes it on to what the
reply makes: the prescription, the note, the referral's conversation, the charge and
the patient's notification, so none of them reaches a parent of a 12-17-year-old.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.billing.ledger import account_for
from portal.billing.models import ServiceLine
from portal.billing.statements import add_service_line
from portal.messaging import roles
from portal.messaging.actions import Draft
from portal.messaging.actions_referrals import offered_specialties
from portal.messaging.confidential import most_sensitive
from portal.messaging.models import Referral, Thread, Topic
from portal.messaging.staff_actions import InboxRefused, do_start_staff_thread, staff_name
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient
from portal.organization.models import Campus, Department, Practitioner
from portal.patients.access import PatientAccess, record_write
from portal.records.actions import do_enter_note
from portal.records.models import ClinicalNote, Medication
from portal.telehealth.models import EVisit
from portal.telehealth.phrases_evisits import evisit_action

Status = EVisit.Status
MAX_REFILLS = 11


class ReviewRefused(Exception):
    """The e-visit cannot take that step now; the message says why, for the reviewer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PrescriptionInput:
    """A medication the reviewer prescribes with the reply (checked by the form)."""

    name: str
    dose: str = ""
    instructions: str = ""
    refills: int | None = None


@dataclass(frozen=True)
class ReferralInput:
    """A referral the reviewer makes with the reply: approved at once, by them."""

    specialty: Department
    reason: str


def _locked(access: PatientAccess, evisit: EVisit) -> EVisit:
    """The e-visit row, locked, once the reviewer's right is checked against it as it now stands."""
    if not access.is_staff_access or access.patient.pk != evisit.patient_id:
        raise ReviewRefused(_("Only the e-visit's review team can work on it."))
    locked = (
        EVisit.objects.select_for_update(of=("self",))
        .select_related("patient", "condition__review_team__campus", "price_item", "reviewer")
        .get(pk=evisit.pk)
    )
    member = locked.condition.review_team.members.filter(user=access.user, active=True)
    role = member.values_list("role", flat=True).first()
    if role is None:
        raise ReviewRefused(_("You are no longer in this e-visit's review team."))
    if role not in roles.CLINICAL_ROLES:
        raise ReviewRefused(_("Only clinicians answer e-visits."))
    return locked


def _reviewing(access: PatientAccess, evisit: EVisit) -> None:
    """Refuse unless the e-visit is in review by this reviewer."""
    if evisit.status == Status.IN_REVIEW and evisit.reviewer_id == access.user.pk:
        return
    if evisit.status == Status.SUBMITTED:
        raise ReviewRefused(_("Start reviewing this e-visit first."))
    if evisit.status == Status.IN_REVIEW:
        raise ReviewRefused(
            _("%(name)s is reviewing this e-visit.") % {"name": staff_name(evisit.reviewer)}  # type: ignore[arg-type]
        )
    raise ReviewRefused(_("This e-visit is no longer waiting for a reply."))


def campus_of(evisit: EVisit) -> Campus | None:
    """Where the e-visit's dates are counted: the review team's campus, else the patient's."""
    return evisit.condition.review_team.campus or evisit.patient.primary_campus


def local_today(evisit: EVisit) -> dt.date:
    campus = campus_of(evisit)
    now = timezone.now()
    return now.astimezone(campus.zone).date() if campus is not None else timezone.localdate(now)


@transaction.atomic
def do_claim_evisit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Start reviewing a sent e-visit; False when it is already this reviewer's (a second click)."""
    locked = _locked(access, evisit)
    if locked.status == Status.IN_REVIEW and locked.reviewer_id == access.user.pk:
        return False
    if locked.status == Status.IN_REVIEW:
        _reviewing(access, locked)
    if locked.status != Status.SUBMITTED:
        raise ReviewRefused(_("This e-visit is no longer waiting for review."))
    locked.status = Status.IN_REVIEW
    locked.reviewer = access.user
    locked.claimed_at = timezone.now()
    locked.save(update_fields=["status", "reviewer", "claimed_at", "updated_at"])
    record_write(actor, access, evisit_action(locked, "telehealth.evisit_claim"), obj=locked)
    return True


@transaction.atomic
def do_release_evisit(actor: Actor, access: PatientAccess, evisit: EVisit) -> bool:
    """Give an e-visit back to the queue; False when it was already back (a second click).

    Nobody has started on it any more, so the patient may withdraw it again.
    """
    locked = _locked(access, evisit)
    if locked.status == Status.SUBMITTED:
        return False
    _reviewing(access, locked)
    locked.status = Status.SUBMITTED
    locked.reviewer = None
    locked.claimed_at = None
    locked.save(update_fields=["status", "reviewer", "claimed_at", "updated_at"])
    record_write(actor, access, evisit_action(locked, "telehealth.evisit_release"), obj=locked)
    return True


def _answered_by_me(access: PatientAccess, evisit: EVisit, status: str) -> bool:
    return evisit.status == status and evisit.reviewer_id == access.user.pk


@transaction.atomic
def do_reply_evisit(
    actor: Actor,
    access: PatientAccess,
    evisit: EVisit,
    *,
    assessment: str,
    plan: str,
    prescription: PrescriptionInput | None = None,
    referral: ReferralInput | None = None,
) -> bool:
    """Answer the e-visit and charge it; False when this reviewer already answered it (a retry)."""
    assessment, plan = assessment.strip(), plan.strip()
    if not assessment or not plan:
        raise ReviewRefused(_("Write both the assessment and the plan."))
    locked = _locked(access, evisit)
    if _answered_by_me(access, locked, Status.COMPLETED):
        return False
    _reviewing(access, locked)
    if (prescription is not None or referral is not None) and not roles.prescribes(access.user):
        raise ReviewRefused(_("Only a prescriber can prescribe or refer."))
    now = timezone.now()
    today = local_today(locked)
    if prescription is not None:
        locked.medication = _prescribe(access, locked, prescription, today)
    if referral is not None:
        locked.referral = _refer(actor, access, locked, referral, now)
    note = do_enter_note(
        actor,
        access,
        kind=ClinicalNote.Kind.PROGRESS_NOTE,
        title=(_("E-visit: %(condition)s") % {"condition": locked.condition.name})[:200],
        body=_note_body(assessment, plan),
        written_at=now,
        sensitivity=locked.sensitivity,
    )
    locked.service_line = _charge(access, locked, today)
    locked.status = Status.COMPLETED
    locked.assessment, locked.plan, locked.replied_at = assessment, plan, now
    locked.save(
        update_fields=[
            "status",
            "assessment",
            "plan",
            "replied_at",
            "medication",
            "referral",
            "service_line",
            "updated_at",
        ]
    )
    detail = {
        "medication": locked.medication_id,
        "referral": locked.referral_id,
        "note": note.pk,
        "service_line": locked.service_line_id,
        "price_cents": locked.price_cents,
    }
    record_write(actor, access, evisit_action(locked, "telehealth.evisit_reply"), obj=locked, detail=detail)
    _tell_patient(locked, "telehealth.evisit_reply")
    return True


def _note_body(assessment: str, plan: str) -> str:
    return "\n\n".join((_("Assessment:") + "\n" + assessment, _("Plan:") + "\n" + plan))


def _prescribe(
    access: PatientAccess, evisit: EVisit, prescription: PrescriptionInput, today: dt.date
) -> Medication:
    practitioner = Practitioner.objects.filter(user=access.user).first()
    return Medication.objects.create(
        patient=evisit.patient,
        entered_by=access.user,
        name=prescription.name.strip()[:200],
        dose=prescription.dose.strip()[:100],
        instructions=prescription.instructions.strip()[:500],
        reason=evisit.condition.name[:200],
        status=Medication.Status.ACTIVE,
        prescriber=practitioner,
        prescriber_name=practitioner.display_name if practitioner is not None else "",
        started_on=today,
        refills_remaining=prescription.refills,
        sensitivity=evisit.sensitivity,
    )


def _refer(
    actor: Actor, access: PatientAccess, evisit: EVisit, referral: ReferralInput, now: dt.datetime
) -> Referral:
    """An approved referral in its own conversation with the review team.

    The conversation is what the rest of the referral workflow works from: the team
    sees it in its referral list and sends it to a scheduling desk from there
    (`actions_referrals.do_request_referral_appointment`), and the patient can ask
    about it there.
    """
    reason = referral.reason.strip()
    if not reason:
        raise ReviewRefused(_("Say why you are referring the patient."))
    if not offered_specialties().filter(pk=referral.specialty.pk).exists():
        raise ReviewRefused(_("Choose one of the specialties shown."))
    valid_until = timezone.localdate(now) + dt.timedelta(days=settings.PORTAL_REFERRAL_VALID_DAYS)
    with translation.override(evisit.patient.preferred_language or settings.LANGUAGE_CODE):
        subject = (_("Referral: %(specialty)s") % {"specialty": referral.specialty.name})[:150]
        body = _(
            "After your e-visit, your clinician referred you to %(specialty)s. "
            "The referral is valid until %(until)s. Reason: %(reason)s"
        ) % {
            "specialty": referral.specialty.name,
            "until": formats.date_format(valid_until, "DATE_FORMAT"),
            "reason": reason,
        }
    try:
        thread = do_start_staff_thread(
            actor,
            access,
            pool=evisit.condition.review_team,
            topic=Topic.REFERRAL,
            subject=subject,
            draft=Draft(body=body),
            status=Thread.Status.IN_PROGRESS,
            sensitivity=_thread_category(evisit),
        )
    except InboxRefused as refusal:
        raise ReviewRefused(refusal.message) from refusal
    made = Referral.objects.create(
        patient=evisit.patient,
        requested_by=access.user,
        specialty=referral.specialty,
        reason=reason[:2000],
        status=Referral.Status.APPROVED,
        decided_by=access.user,
        decided_at=now,
        valid_until=valid_until,
        thread=thread,
        created_at=now,
        updated_at=now,
    )
    detail = {"valid_until": valid_until.isoformat(), "evisit": evisit.pk, "specialty": referral.specialty.pk}
    record_write(actor, access, "referral.approve", obj=made, detail=detail)
    return made


def _thread_category(evisit: EVisit) -> str:
    # A conversation takes only a category the clinic keeps confidential now (messaging
    # refuses others); one dropped from the settings since hides nothing from anyone anyway.
    configured = evisit.sensitivity in settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES
    return evisit.sensitivity if configured else ""


def _charge(access: PatientAccess, evisit: EVisit, today: dt.date) -> ServiceLine | None:
    """The e-visit's one charge, as frozen when it was started: the item, code, description and
    price the patient saw, whatever the price list says now (a free one posts nothing)."""
    if evisit.price_cents <= 0:
        return None
    return add_service_line(
        account_for(evisit.patient),
        service_date=today,
        code=evisit.price_code,
        description=evisit.price_description[:200],
        sensitivity=most_sensitive([evisit.sensitivity, evisit.price_item.sensitivity]),
        charge_cents=evisit.price_cents,
        posted_by=access.user,
        form_key=f"evisit-{evisit.pk}",
        campus=campus_of(evisit),
        visit_label=_("E-visit"),
    )


@transaction.atomic
def do_redirect_evisit(actor: Actor, access: PatientAccess, evisit: EVisit, *, message: str) -> bool:
    """The reviewer says the problem needs a visit; no charge. False when already done (a retry).

    The message to the patient is kept as the e-visit's plan.
    """
    message = message.strip()
    if not message:
        raise ReviewRefused(_("Tell the patient what kind of visit they need."))
    locked = _locked(access, evisit)
    if _answered_by_me(access, locked, Status.REDIRECTED):
        return False
    _reviewing(access, locked)
    locked.status = Status.REDIRECTED
    locked.plan = message
    locked.replied_at = timezone.now()
    locked.save(update_fields=["status", "plan", "replied_at", "updated_at"])
    record_write(actor, access, evisit_action(locked, "telehealth.evisit_redirect"), obj=locked)
    _tell_patient(locked, "telehealth.evisit_redirect")
    return True


def _tell_patient(evisit: EVisit, key: str) -> None:
    # No health words, not even the condition: notifications are listed where others may see them.
    def compose() -> tuple[str, str]:
        return _("Your e-visit has a reply"), _("Open the e-visit to read what your clinician wrote.")

    notify_patient(
        evisit.patient,
        kind=Kind.MESSAGES,
        key=f"{key}:{evisit.pk}",
        link=reverse("evisits:detail", args=[evisit.pk]),
        compose=compose,
        sensitivity=evisit.sensitivity,
    )
