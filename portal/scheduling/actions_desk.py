"""What a campus's scheduling desk does: answer requests, and run the day's visits.

Every action is atomic and audits itself as whoever the access says (staff, for the
desk). Answers to a request tell the patient, with a link to the request's page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_write
from portal.scheduling import booking
from portal.scheduling.booking import BookingRefused
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    PatientNotice,
    Slot,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.scheduling.notify import Compose, tell_patient

MAX_OFFERED_SLOTS = 5
TOPIC = "scheduling.appointment_request"


def request_link(appointment_request: AppointmentRequest) -> str:
    # The patient's request page; a path rather than reverse() so the message still
    # points there if that page's URL names change.
    return f"/appointments/requests/{appointment_request.pk}/"


def _locked_open(appointment_request: AppointmentRequest) -> AppointmentRequest:
    locked = AppointmentRequest.objects.select_for_update().get(pk=appointment_request.pk)
    if not locked.is_open:
        raise BookingRefused(_("This request has already been answered."))
    return locked


def _handled(appointment_request: AppointmentRequest, actor: Actor) -> None:
    appointment_request.handled_by = actor.user
    appointment_request.handled_at = timezone.now()


def _withdraw_open_offers(appointment_request: AppointmentRequest) -> None:
    appointment_request.offers.filter(status=SlotOffer.Status.OPEN).update(status=SlotOffer.Status.WITHDRAWN)


def _check_offerable(
    appointment_request: AppointmentRequest, slots: Sequence[Slot], visit_type: VisitType
) -> None:
    if not 1 <= len(slots) <= MAX_OFFERED_SLOTS:
        raise BookingRefused(_("Choose between 1 and %(most)d times to offer.") % {"most": MAX_OFFERED_SLOTS})
    now = timezone.now()
    for slot in slots:
        usable = (
            slot.campus_id == appointment_request.campus_id
            and slot.status == Slot.Status.OPEN
            and slot.starts_at > now
            and slot.minutes >= visit_type.duration_minutes
        )
        if not usable:
            raise BookingRefused(_("One of those times was just taken. Choose again."))
    fits = Slot.objects.filter(pk__in=[slot.pk for slot in slots], template__visit_types=visit_type).count()
    if fits != len(slots) or not visit_type.active:
        raise BookingRefused(_("That time is not available for this kind of visit."))


@transaction.atomic
def do_offer_slots(
    actor: Actor,
    access: PatientAccess,
    appointment_request: AppointmentRequest,
    slots: Sequence[Slot],
    visit_type: VisitType,
    reply: str = "",
) -> list[SlotOffer]:
    """Offer the patient 1-5 open times for their request; earlier open offers are replaced.

    An offer reserves nothing: the patient's acceptance books through `claim_slot`
    like any booking. It lapses after PORTAL_REQUEST_OFFER_DAYS, or when the slot starts.
    """
    locked = _locked_open(appointment_request)
    slots = list(
        Slot.objects.select_for_update().filter(pk__in=[slot.pk for slot in slots]).order_by("starts_at")
    )
    _check_offerable(locked, slots, visit_type)
    _withdraw_open_offers(locked)
    lapses = timezone.now() + dt.timedelta(days=settings.PORTAL_REQUEST_OFFER_DAYS)
    offers = SlotOffer.objects.bulk_create(
        SlotOffer(
            patient_id=locked.patient_id,
            slot=slot,
            visit_type=visit_type,
            kind=SlotOffer.Kind.REQUEST,
            request=locked,
            expires_at=min(lapses, slot.starts_at),
        )
        for slot in slots
    )
    locked.status = AppointmentRequest.Status.OFFERED
    locked.desk_reply = reply.strip()[:2000]
    _handled(locked, actor)
    locked.save(update_fields=["status", "desk_reply", "handled_by", "handled_at", "updated_at"])
    record_write(
        actor, access, "appointment_request.offer", obj=locked, detail={"slots": [slot.pk for slot in slots]}
    )
    _tell(access, locked, f"offer:{timezone.now():%Y%m%d%H%M%S%f}", _offer_message)
    appointment_request.status, appointment_request.desk_reply = locked.status, locked.desk_reply
    return offers


@transaction.atomic
def do_book_request(
    actor: Actor,
    access: PatientAccess,
    appointment_request: AppointmentRequest,
    slot: Slot,
    visit_type: VisitType,
    reply: str = "",
) -> Appointment:
    """Book the request straight into `slot`; raises `SlotTaken` or `BookingRefused`, changing nothing."""
    locked = _locked_open(appointment_request)
    if slot.campus_id != locked.campus_id:
        raise BookingRefused(_("That time is not at this request's campus."))
    appointment = booking.do_book_appointment(
        actor,
        access,
        slot,
        visit_type,
        reason=locked.reason[:500],
        via=Appointment.Via.REQUEST,
        request=locked,
    )
    if reply.strip():
        locked.desk_reply = reply.strip()[:2000]
    _handled(locked, actor)
    locked.save(update_fields=["desk_reply", "handled_by", "handled_at", "updated_at"])
    _tell(access, locked, f"booked:{appointment.pk}", _booked_message)
    return appointment


@transaction.atomic
def do_decline_request(
    actor: Actor, access: PatientAccess, appointment_request: AppointmentRequest, reason: str
) -> AppointmentRequest:
    """Decline the request, saying why (the patient reads the reason)."""
    reason = reason.strip()
    if not reason:
        raise BookingRefused(_("Say why the request is declined: the patient reads it."))
    locked = _locked_open(appointment_request)
    _withdraw_open_offers(locked)
    locked.status = AppointmentRequest.Status.DECLINED
    locked.desk_reply = reason[:2000]
    _handled(locked, actor)
    locked.save(update_fields=["status", "desk_reply", "handled_by", "handled_at", "updated_at"])
    record_write(actor, access, "appointment_request.decline", obj=locked)
    _tell(access, locked, "declined", _declined_message)
    return locked


def _offer_message() -> tuple[str, str]:
    return (
        _("The scheduling desk offered times for your request"),
        _("Choose the time that suits you before the offer lapses."),
    )


def _booked_message() -> tuple[str, str]:
    return (
        _("The scheduling desk booked your appointment"),
        _("Your request is booked. Open it to see the time and how to prepare."),
    )


def _declined_message() -> tuple[str, str]:
    return (
        _("The scheduling desk answered your request"),
        _("Your request could not be booked. Open it to read why and what to do next."),
    )


def _tell(
    access: PatientAccess, appointment_request: AppointmentRequest, what: str, compose: Compose
) -> None:
    tell_patient(
        access.patient,
        key=f"{appointment_request.pk}:{what}",
        link=request_link(appointment_request),
        compose=compose,
        topic=TOPIC,
    )


# The day's visits -------------------------------------------------------------------------


def _locked_appointment(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().get(pk=appointment.pk)


@transaction.atomic
def do_mark_arrived(actor: Actor, access: PatientAccess, appointment: Appointment) -> Appointment:
    """The patient is here: checked in at the desk."""
    locked = _locked_appointment(appointment)
    if locked.status != Appointment.Status.BOOKED:
        raise BookingRefused(_("Only a scheduled appointment can be checked in."))
    locked.status = Appointment.Status.ARRIVED
    locked.arrived_at = timezone.now()
    locked.save(update_fields=["status", "arrived_at", "updated_at"])
    record_write(actor, access, "appointment.arrive", obj=locked)
    return locked


@transaction.atomic
def do_mark_no_show(actor: Actor, access: PatientAccess, appointment: Appointment) -> Appointment:
    """The patient did not come. Only once the visit has started: before, they may still arrive."""
    locked = _locked_appointment(appointment)
    if locked.status != Appointment.Status.BOOKED:
        raise BookingRefused(_("Only a scheduled appointment can be marked as missed."))
    if timezone.now() < locked.starts_at:
        raise BookingRefused(_("An appointment can be marked as missed only after its start time."))
    locked.status = Appointment.Status.NOSHOW
    locked.save(update_fields=["status", "updated_at"])
    # Waiting for an earlier time makes no sense for a visit that is over.
    WaitlistEntry.objects.filter(appointment=locked, status=WaitlistEntry.Status.ACTIVE).update(
        status=WaitlistEntry.Status.CANCELLED
    )
    record_write(actor, access, "appointment.no_show", obj=locked)
    return locked


@transaction.atomic
def do_acknowledge_notice(actor: Actor, access: PatientAccess, notice: PatientNotice) -> PatientNotice:
    """The desk has read the patient's "running late" or "cannot come"; acknowledging twice is harmless."""
    locked = PatientNotice.objects.select_for_update().get(pk=notice.pk)
    if locked.acknowledged_at is None:
        locked.acknowledged_by = actor.user
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_by", "acknowledged_at"])
        record_write(actor, access, "patient_notice.acknowledge", obj=locked)
    return locked
