"""Every write to referrals: asking for one, the care team's decisions, and its appointment.

A referral lives in its own conversation (topic: referral) with the clinical care team
the patient chose, so the pool works it from the staff inbox and the patient reads
every decision there as a message. Each decision is one transaction: the referral's
new status, its audit event, the staff message in the thread and the patient's
notification (through `actions.do_reply`) commit together or not at all.

An approved referral becomes a request to a campus's scheduling desk through
`scheduling.actions_requests.do_submit_request`, the same action the patient's own
requests use, so it lands in that desk's queue like any other; when the desk books it,
`appointment_request_booked` marks the referral scheduled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.messaging import actions, roles
from portal.messaging.models import Referral, Thread, Topic
from portal.organization.models import Campus, CareTeam, Department
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope
from portal.scheduling import actions_requests
from portal.scheduling.models import AppointmentRequest

Status = Referral.Status


class ReferralRefused(Exception):
    """The change breaks a rule; `message` says which, in words for whoever asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def offered_specialties() -> QuerySet[Department]:
    """Specialties a patient may ask to be referred to: those offered at an active campus."""
    return Department.objects.filter(campuses__is_active=True).distinct().order_by("name", "pk")


def campuses_offering(specialty: Department) -> QuerySet[Campus]:
    return Campus.objects.filter(is_active=True, departments=specialty).order_by("name", "pk")


# Asking ------------------------------------------------------------------------------------


@transaction.atomic
def do_request_referral(
    actor: Actor,
    access: PatientAccess,
    *,
    specialty: Department,
    reason: str,
    care_team: CareTeam,
    preferred_campus: Campus | None = None,
) -> Referral:
    """The patient (or a proxy who may message) asks their care team for a referral."""
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise ReferralRefused(_("You cannot ask for referrals for this patient."))
    reason = reason.strip()
    if not reason:
        raise ReferralRefused(_("Say why you would like the referral."))
    if not offered_specialties().filter(pk=specialty.pk).exists():
        raise ReferralRefused(_("Choose one of the specialties shown."))
    if (
        preferred_campus is not None
        and not campuses_offering(specialty).filter(pk=preferred_campus.pk).exists()
    ):
        raise ReferralRefused(_("That campus does not offer this specialty."))
    try:
        thread = actions.do_start_thread(
            actor,
            access,
            topic=Topic.REFERRAL,
            care_team=care_team,
            subject=(_("Referral request: %(specialty)s") % {"specialty": specialty.name})[:150],
            draft=actions.Draft(body=_request_summary(specialty, reason, preferred_campus)),
        )
    except actions.MessageRefused as refusal:
        raise ReferralRefused(str(refusal)) from refusal
    referral = Referral.objects.create(
        patient=access.patient,
        requested_by=access.user,
        specialty=specialty,
        reason=reason,
        preferred_campus=preferred_campus,
        thread=thread,
        created_at=thread.created_at,
        updated_at=thread.created_at,
    )
    detail = {"specialty": specialty.pk, "pool": thread.pool_id}
    record_write(actor, access, "referral.request", obj=referral, detail=detail)
    return referral


def _request_summary(specialty: Department, reason: str, campus: Campus | None) -> str:
    lines = [
        _("I would like a referral to %(specialty)s.") % {"specialty": specialty.name},
        _("Preferred campus: %(campus)s") % {"campus": campus.name if campus else _("no preference")},
        "",
        _("Reason:"),
        reason,
    ]
    return "\n".join(lines)


# The care team's decisions ----------------------------------------------------------------


def _locked(access: PatientAccess, referral: Referral, *, decides: bool = False) -> Referral:
    """The referral locked for the change, for clinicians of its conversation's pool only.

    Approving or denying takes a prescriber; carrying an approved referral forward any
    clinician. The conversation is locked first (as a reply locks it) and the writer's
    pool membership checked under that lock, so a decision racing a move is refused.
    """
    if not access.is_staff_access or access.patient.pk != referral.patient_id:
        raise ReferralRefused(_("Only the care team the referral was sent to can decide it."))
    if decides and not roles.prescribes(access.user):
        raise ReferralRefused(_("A prescriber decides this request."))
    if not roles.is_clinician(access.user):
        raise ReferralRefused(_("Only the clinical staff of the care team can work on a referral."))
    thread_id = Referral.objects.filter(pk=referral.pk).values_list("thread_id", flat=True).first()
    thread = (
        Thread.objects.select_for_update(of=("self",)).select_related("pool").filter(pk=thread_id).first()
        if thread_id
        else None
    )
    if thread is None or not actions.in_pool(access, thread):
        raise ReferralRefused(_("This referral is no longer in one of your pools."))
    # Only the referral row: its related rows are outer joins, which PostgreSQL will not lock.
    locked = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("specialty", "preferred_campus", "patient__primary_campus", "thread__pool")
        .get(pk=referral.pk)
    )
    if locked.thread_id != thread.pk:
        raise ReferralRefused(_("This referral is no longer in one of your pools."))
    return locked


def _decided(referral: Referral, access: PatientAccess, status: str, note: str) -> dt.datetime:
    now = timezone.now()
    referral.status = status
    referral.decision_note = note
    referral.decided_by = access.user
    referral.decided_at = now
    referral.updated_at = now
    return now


def _tell_patient(
    actor: Actor,
    access: PatientAccess,
    referral: Referral,
    compose: Callable[[], str],
    thread_status: str,
) -> None:
    """Post the decision in the referral's conversation; `do_reply` tells the patient's side."""
    thread = referral.thread
    if thread is None:  # the conversation was deleted; the status change still stands
        return
    # Stored once, so written in the patient's language rather than the clinician's.
    with translation.override(referral.patient.preferred_language or settings.LANGUAGE_CODE):
        body = compose()
    actions.do_reply(actor, access, thread, actions.Draft(body=body), status=thread_status)


def _note_line(note: str) -> str:
    return "\n\n" + _("Note from your care team: %(note)s") % {"note": note} if note else ""


@transaction.atomic
def do_approve_referral(actor: Actor, access: PatientAccess, referral: Referral, note: str = "") -> Referral:
    """Approve a requested referral; it stays valid for PORTAL_REFERRAL_VALID_DAYS."""
    locked = _locked(access, referral, decides=True)
    if locked.status != Status.REQUESTED:
        raise ReferralRefused(_("Only a referral waiting for a decision can be approved."))
    note = note.strip()
    _decided(locked, access, Status.APPROVED, note)
    valid_until = timezone.localdate() + dt.timedelta(days=settings.PORTAL_REFERRAL_VALID_DAYS)
    locked.valid_until = valid_until
    _save(locked, "valid_until")
    record_write(
        actor, access, "referral.approve", obj=locked, detail={"valid_until": valid_until.isoformat()}
    )

    def compose() -> str:
        until = formats.date_format(valid_until, "DATE_FORMAT")
        text = _("Your referral to %(specialty)s is approved. It is valid until %(until)s.") % {
            "specialty": locked.specialty.name,
            "until": until,
        }
        return text + _note_line(note)

    # Still the pool's work: an appointment request comes next.
    _tell_patient(actor, access, locked, compose, Thread.Status.IN_PROGRESS)
    return locked


@transaction.atomic
def do_deny_referral(actor: Actor, access: PatientAccess, referral: Referral, reason: str) -> Referral:
    """Decline a requested referral, saying why (the patient reads the reason)."""
    reason = reason.strip()
    if not reason:
        raise ReferralRefused(_("Say why the referral is not approved: the patient reads it."))
    locked = _locked(access, referral, decides=True)
    if locked.status != Status.REQUESTED:
        raise ReferralRefused(_("Only a referral waiting for a decision can be denied."))
    _decided(locked, access, Status.DENIED, reason)
    _save(locked)
    record_write(actor, access, "referral.deny", obj=locked)

    def compose() -> str:
        text = _("Your referral to %(specialty)s was not approved.") % {"specialty": locked.specialty.name}
        return text + "\n\n" + _("Reason: %(reason)s") % {"reason": reason}

    # Waiting on the patient rather than closed, so they can still ask about the decision.
    _tell_patient(actor, access, locked, compose, Thread.Status.WAITING_ON_PATIENT)
    return locked


@transaction.atomic
def do_complete_referral(actor: Actor, access: PatientAccess, referral: Referral) -> Referral:
    """The referral has done its work: the patient was seen by the specialty."""
    locked = _locked(access, referral)
    if locked.status not in (Status.APPROVED, Status.SCHEDULED):
        raise ReferralRefused(_("Only an approved or scheduled referral can be marked completed."))
    locked.status = Status.COMPLETED
    locked.updated_at = timezone.now()
    _save(locked)
    record_write(actor, access, "referral.complete", obj=locked)

    def compose() -> str:
        return _("Your referral to %(specialty)s is completed.") % {"specialty": locked.specialty.name}

    _tell_patient(actor, access, locked, compose, Thread.Status.CLOSED)
    return locked


def desk_campus_for(referral: Referral) -> Campus | None:
    """Where the appointment is asked for: the patient's preferred campus; otherwise their
    own campus if it offers the specialty, else the first active campus that does."""
    if referral.preferred_campus is not None and referral.preferred_campus.is_active:
        return referral.preferred_campus
    offering = campuses_offering(referral.specialty)
    home = referral.patient.primary_campus
    if home is not None and offering.filter(pk=home.pk).exists():
        return home
    return offering.first() or (home if home is not None and home.is_active else None)


@transaction.atomic
def do_request_referral_appointment(
    actor: Actor, access: PatientAccess, referral: Referral
) -> AppointmentRequest:
    """Turn an approved referral into a request in a campus's scheduling desk queue (once)."""
    locked = _locked(access, referral)
    if locked.status != Status.APPROVED:
        raise ReferralRefused(_("Only an approved referral can become an appointment request."))
    if locked.appointment_request_id is not None:
        raise ReferralRefused(_("This referral already has an appointment request."))
    if locked.valid_until is not None and locked.valid_until < timezone.localdate():
        raise ReferralRefused(_("This referral's approval has expired."))
    campus = desk_campus_for(locked)
    if campus is None:
        raise ReferralRefused(_("No active campus offers this specialty."))
    try:
        appointment_request = actions_requests.do_submit_request(
            actor,
            access,
            campus=campus,
            reason=locked.reason,
            department=locked.specialty,
            referred_by=_referred_by(access, locked)[:200],
            referral_details=_referral_details(locked)[:2000],
        )
    except actions_requests.RequestRefused as refusal:
        raise ReferralRefused(refusal.message) from refusal
    locked.appointment_request = appointment_request
    locked.updated_at = timezone.now()
    _save(locked, "appointment_request")
    record_write(
        actor,
        access,
        "referral.appointment_request",
        obj=locked,
        detail={"appointment_request": appointment_request.pk, "campus": campus.pk},
    )

    def compose() -> str:
        return _(
            "Your referral to %(specialty)s was sent to the %(campus)s scheduling desk. "
            "They will offer you appointment times."
        ) % {"specialty": locked.specialty.name, "campus": campus.short_name or campus.name}

    # The desk has it now; the patient can still reply in the conversation.
    _tell_patient(actor, access, locked, compose, Thread.Status.WAITING_ON_PATIENT)
    return appointment_request


def _referred_by(access: PatientAccess, referral: Referral) -> str:
    """ "Dr. Carol Staff, Family Medicine, Rochester": the deciding clinician and their team."""
    practitioner = getattr(access.user, "practitioner", None)
    who = practitioner.display_name if practitioner is not None else access.user.get_full_name()
    team: CareTeam | None = None
    if referral.thread is not None:
        team = referral.thread.care_team or referral.thread.pool
    return ", ".join(part for part in (who, team.name if team is not None else "") if part)


def _referral_details(referral: Referral) -> str:
    lines = [
        _("Portal referral %(number)s to %(specialty)s.")
        % {"number": referral.pk, "specialty": referral.specialty}
    ]
    if referral.valid_until is not None:
        lines.append(_("Valid until %(date)s.") % {"date": referral.valid_until.isoformat()})
    if referral.decision_note:
        lines.append(_("Note: %(note)s") % {"note": referral.decision_note})
    return "\n".join(lines)


def _save(referral: Referral, *extra: str) -> None:
    fields = ["status", "decision_note", "decided_by", "decided_at", "updated_at", *extra]
    referral.save(update_fields=fields)


# Scheduling's side -------------------------------------------------------------------------


def appointment_request_booked(appointment_request: AppointmentRequest) -> Referral | None:
    """The desk booked a referral's appointment request: the referral is now scheduled.

    Called by `scheduling.booking.do_book_appointment` inside the booking's transaction,
    which has already told the patient about the visit and audited the booking.
    """
    referral = (
        Referral.objects.select_for_update()
        .filter(appointment_request_id=appointment_request.pk, status=Status.APPROVED)
        .first()
    )
    if referral is None:
        return None
    referral.status = Status.SCHEDULED
    referral.updated_at = timezone.now()
    referral.save(update_fields=["status", "updated_at"])
    record(
        Actor.system(),
        "referral.scheduled",
        kind=Kind.WRITE,
        patient=referral.patient_id,
        obj=referral,
        detail={"appointment_request": appointment_request.pk},
    )
    return referral
