"""Booking, cancelling and rescheduling: the writes that must never double-book.

The guarantee is one conditional UPDATE (`claim_slot`): `UPDATE slot SET status='booked'
WHERE id=? AND status='open'`. On PostgreSQL a second writer waits on the row lock and
then finds the condition false; on SQLite transactions are IMMEDIATE, so writers queue.
Either way exactly one of any number of concurrent bookers sees one row updated; every
other gets `SlotTaken`, which views turn into "that time was just taken" with other
times. The partial unique constraint `one_appointment_per_slot` backs it up in the
database itself.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import CareRelationship, Patient
from portal.scheduling import hooks
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    PreCheckIn,
    QuestionnaireAnswers,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.scheduling.models import Slot as SlotModel
from portal.scheduling.slots import is_blocked_now, session_still_runs

Via = Appointment.Via


class SlotTaken(Exception):
    """Someone else booked the slot first (or it was blocked) a moment ago."""


class BookingRefused(Exception):
    """The booking breaks a rule; `message` says which, in words for the patient."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def self_service_cutoff(appointment: Appointment) -> dt.datetime:
    """The moment after which the patient can no longer cancel or reschedule online."""
    return appointment.starts_at - dt.timedelta(hours=settings.PORTAL_SELF_SERVICE_CUTOFF_HOURS)


def may_change_online(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """Whether the patient may still cancel or reschedule this appointment themselves."""
    now = now or timezone.now()
    return appointment.status == Appointment.Status.BOOKED and now < self_service_cutoff(appointment)


def earliest_bookable(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) + dt.timedelta(minutes=settings.PORTAL_BOOKING_LEAD_MINUTES)


def claim_slot(slot_id: int, *, offered: bool = False, now: dt.datetime | None = None) -> bool:
    """Mark the slot booked if it is open (and not held for others); True if we won it.

    `offered` bookings accept a slot held for waitlist offers: the hold exists for them.
    """
    now = now or timezone.now()
    open_slot = SlotModel.objects.filter(pk=slot_id, status=SlotModel.Status.OPEN, starts_at__gt=now)
    if not offered:
        open_slot = open_slot.filter(Q(held_until__isnull=True) | Q(held_until__lte=now))
    return open_slot.update(status=SlotModel.Status.BOOKED, held_until=None) == 1


def release_slot(slot_id: int | None) -> bool:
    """Reopen a booked slot at once (blocked instead if a block now covers it or its
    session no longer runs that day).

    Returns whether the slot became open to others; the caller's transaction then
    tells the waitlist (`hooks.slot_freed`) once it commits.
    """
    if slot_id is None:
        return False
    slot = (
        SlotModel.objects.select_for_update(of=("self",))
        .select_related("template", "campus")
        .filter(pk=slot_id, status=SlotModel.Status.BOOKED)
        .first()
    )
    if slot is None:
        return False
    if slot.starts_at <= timezone.now() or is_blocked_now(slot) or not session_still_runs(slot):
        slot.status = SlotModel.Status.BLOCKED
        slot.save(update_fields=["status"])
        return False
    slot.status = SlotModel.Status.OPEN
    slot.save(update_fields=["status"])
    transaction.on_commit(lambda: hooks.slot_freed(slot_id))
    return True


def check_bookable(
    access: PatientAccess,
    slot: SlotModel,
    visit_type: VisitType,
    *,
    by_desk: bool,
    replacing: Appointment | None = None,
) -> None:
    """Raise `BookingRefused` if this patient may not have this visit type in this slot."""
    if not slot.template.visit_types.filter(pk=visit_type.pk).exists() or not visit_type.active:
        raise BookingRefused(_("That time is not available for this kind of visit."))
    if visit_type.duration_minutes > slot.minutes:
        raise BookingRefused(_("That time is too short for this kind of visit."))
    if not by_desk:
        if not visit_type.self_schedulable:
            raise BookingRefused(_("This kind of visit is booked by the scheduling desk: send a request."))
        if slot.starts_at < earliest_bookable():
            raise BookingRefused(_("That time is too soon to book online: call the scheduling desk."))
        if visit_type.established_only and not _under_department_care(access, visit_type):
            raise BookingRefused(
                _("This visit is for patients already seen by the department: send a request.")
            )
    clash = Appointment.objects.filter(
        patient=access.patient,
        status=Appointment.Status.BOOKED,
        starts_at__lt=slot.ends_at,
        ends_at__gt=slot.starts_at,
    )
    if replacing is not None:
        clash = clash.exclude(pk=replacing.pk)
    if clash.exists():
        raise BookingRefused(_("You already have an appointment at that time."))


def _under_department_care(access: PatientAccess, visit_type: VisitType) -> bool:
    if visit_type.department_id is None:
        return True
    today = timezone.localdate()
    return (
        CareRelationship.objects.filter(
            patient=access.patient,
            care_team__department_id=visit_type.department_id,
            starts_on__lte=today,
        )
        .exclude(ends_on__lt=today)
        .exists()
    )


def _take(slot: SlotModel, *, offered: bool) -> None:
    if not claim_slot(slot.pk, offered=offered):
        raise SlotTaken


def appointment_in(
    slot: SlotModel,
    patient: Patient,
    visit_type: VisitType,
    *,
    via: str,
    reason: str = "",
    booked_by: User | None = None,
    source_id: str = "",
) -> Appointment:
    """An unsaved appointment filling `slot` (its clinician, place and time), for the caller to save."""
    return Appointment(
        patient=patient,
        visit_type=visit_type,
        practitioner_id=slot.practitioner_id,
        campus_id=slot.campus_id,
        department_id=slot.department_id,
        slot=slot,
        starts_at=slot.starts_at,
        ends_at=slot.starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
        mode=visit_type.mode,
        reason=reason,
        booked_via=via,
        booked_by=booked_by,
        source_id=source_id,
    )


def _new_appointment(
    access: PatientAccess, slot: SlotModel, visit_type: VisitType, via: str, reason: str, actor: Actor
) -> Appointment:
    appointment = appointment_in(
        slot, access.patient, visit_type, via=via, reason=reason, booked_by=actor.user
    )
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as exc:  # the constraint behind claim_slot: someone holds the slot
        raise SlotTaken from exc
    return appointment


@transaction.atomic
def do_book_appointment(
    actor: Actor,
    access: PatientAccess,
    slot: SlotModel,
    visit_type: VisitType,
    *,
    reason: str = "",
    via: str = Via.SELF,
    request: AppointmentRequest | None = None,
    offer: SlotOffer | None = None,
) -> Appointment:
    """Book `slot` for the patient; raises `BookingRefused` or `SlotTaken` and changes nothing then."""
    # The desk may book what patients cannot (any visit type, at short notice); a patient
    # accepting a time the desk offered them books with the desk's approval.
    approved = access.is_staff_access or offer is not None
    check_bookable(access, slot, visit_type, by_desk=approved)
    _take(slot, offered=offer is not None)
    appointment = _new_appointment(access, slot, visit_type, via, reason, actor)
    if request is not None:
        request.status = AppointmentRequest.Status.BOOKED
        request.appointment = appointment
        request.save(update_fields=["status", "appointment", "updated_at"])
        # The request is settled: its other offered times go back to everyone.
        request.offers.filter(status=SlotOffer.Status.OPEN).update(status=SlotOffer.Status.WITHDRAWN)
        # A referral's request marks its referral scheduled (imported here: messaging imports booking).
        from portal.messaging.actions_referrals import appointment_request_booked

        appointment_request_booked(request)
    if offer is not None:
        _mark_accepted(offer, appointment)
    record_write(actor, access, "appointment.book", obj=appointment, detail={"via": via})
    hooks.appointment_booked(appointment)
    return appointment


def _mark_accepted(offer: SlotOffer, appointment: Appointment) -> None:
    offer.status = SlotOffer.Status.ACCEPTED
    offer.responded_at = timezone.now()
    offer.appointment = appointment
    offer.save(update_fields=["status", "responded_at", "appointment"])
    # The slot is gone: every other open offer of it is withdrawn.
    SlotOffer.objects.filter(slot_id=offer.slot_id, status=SlotOffer.Status.OPEN).update(
        status=SlotOffer.Status.WITHDRAWN
    )


def _lock(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().select_related("visit_type").get(pk=appointment.pk)


@transaction.atomic
def do_cancel_appointment(
    actor: Actor, access: PatientAccess, appointment: Appointment, reason: str = ""
) -> Appointment:
    """Cancel and reopen the slot at once. Patients may not cancel inside the cutoff; staff may."""
    appointment = _lock(appointment)
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingRefused(_("This appointment can no longer be cancelled."))
    if not access.is_staff_access and not may_change_online(appointment):
        raise BookingRefused(_("It is too close to the visit to cancel online: call the scheduling desk."))
    _cancel(appointment, actor, reason)
    record_write(actor, access, "appointment.cancel", obj=appointment, detail={"reason": reason[:200]})
    return appointment


def _cancel(appointment: Appointment, actor: Actor, reason: str) -> None:
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = actor.user
    appointment.cancel_reason = reason[:300]
    appointment.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason", "updated_at"])
    release_slot(appointment.slot_id)
    WaitlistEntry.objects.filter(appointment=appointment, status=WaitlistEntry.Status.ACTIVE).update(
        status=WaitlistEntry.Status.CANCELLED
    )
    hooks.appointment_cancelled(appointment)


@transaction.atomic
def do_reschedule_appointment(
    actor: Actor,
    access: PatientAccess,
    appointment: Appointment,
    slot: SlotModel,
    *,
    via: str = Via.RESCHEDULE,
    offer: SlotOffer | None = None,
) -> Appointment:
    """Move the appointment to `slot` in one transaction: the new slot is taken and the old
    one freed together, or (on `SlotTaken` / `BookingRefused`) nothing changes at all.

    Pre-check-in progress, answers and signatures follow the visit to its new time.
    """
    appointment = _lock(appointment)
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingRefused(_("This appointment can no longer be changed."))
    by_desk = access.is_staff_access
    if not by_desk and via != Via.WAITLIST and not may_change_online(appointment):
        raise BookingRefused(
            _("It is too close to the visit to reschedule online: call the scheduling desk.")
        )
    if offer is None:
        check_bookable(access, slot, appointment.visit_type, by_desk=by_desk, replacing=appointment)
    _take(slot, offered=offer is not None)
    moved = _new_appointment(access, slot, appointment.visit_type, via, appointment.reason, actor)
    moved.rescheduled_from = appointment
    moved.save(update_fields=["rescheduled_from"])
    if offer is not None:
        _mark_accepted(offer, moved)
        if offer.waitlist_entry_id is not None:
            WaitlistEntry.objects.filter(pk=offer.waitlist_entry_id).update(
                status=WaitlistEntry.Status.FULFILLED
            )
    _carry_over_check_in(appointment, moved)
    _cancel(appointment, actor, "rescheduled")
    record_write(
        actor, access, "appointment.reschedule", obj=moved, detail={"from": appointment.pk, "via": via}
    )
    hooks.appointment_booked(moved)
    return moved


def _carry_over_check_in(old: Appointment, new: Appointment) -> None:
    PreCheckIn.objects.filter(appointment=old).update(appointment=new)
    QuestionnaireAnswers.objects.filter(appointment=old).update(appointment=new)
    old.consent_signatures.update(appointment=new)
