"""Writes on a patient's appointment requests: submit, withdraw, and accept an offered time.

A request goes to its campus's scheduling desk queue (the desk filters by campus and
status). Accepting an offer books through `booking.do_book_appointment`, the same
conditional UPDATE every booking uses, so an offered slot someone else took first
raises `SlotTaken` and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.organization.models import Campus, Department, Practitioner
from portal.patients.access import PatientAccess, record_write
from portal.scheduling import booking
from portal.scheduling.models import Appointment, AppointmentRequest, SlotOffer

# A patient with this many requests still waiting has the desk's attention already;
# more would only bury the queue.
MAX_OPEN_REQUESTS = 10


class RequestRefused(Exception):
    """The change breaks a rule; `message` says which, in words for the patient."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@transaction.atomic
def do_submit_request(
    actor: Actor,
    access: PatientAccess,
    *,
    campus: Campus,
    reason: str,
    department: Department | None = None,
    practitioner: Practitioner | None = None,
    mode: str = "",
    earliest_date: dt.date | None = None,
    latest_date: dt.date | None = None,
    time_of_day: str = AppointmentRequest.TimeOfDay.ANY,
    availability_notes: str = "",
    referred_by: str = "",
    referral_details: str = "",
) -> AppointmentRequest:
    """Send a request to the campus's scheduling desk."""
    waiting = AppointmentRequest.objects.filter(
        patient=access.patient, status__in=AppointmentRequest.OPEN_STATUSES
    )
    if waiting.count() >= MAX_OPEN_REQUESTS:
        raise RequestRefused(
            _("You already have %(count)d requests waiting. Withdraw one or call the scheduling desk.")
            % {"count": MAX_OPEN_REQUESTS}
        )
    appointment_request = AppointmentRequest.objects.create(
        patient=access.patient,
        campus=campus,
        department=department,
        practitioner=practitioner,
        mode=mode,
        reason=reason,
        earliest_date=earliest_date,
        latest_date=latest_date,
        time_of_day=time_of_day,
        availability_notes=availability_notes,
        referred_by=referred_by,
        referral_details=referral_details,
        created_by=actor.user,
    )
    detail: dict[str, Any] = {"campus": campus.pk, "department": department.pk if department else None}
    record_write(actor, access, "appointment_request.submit", obj=appointment_request, detail=detail)
    return appointment_request


def _lock(appointment_request: AppointmentRequest) -> AppointmentRequest:
    return AppointmentRequest.objects.select_for_update().get(pk=appointment_request.pk)


@transaction.atomic
def do_withdraw_request(
    actor: Actor, access: PatientAccess, appointment_request: AppointmentRequest
) -> AppointmentRequest:
    """Take back a request the desk has not settled; the times it offered go back to everyone."""
    appointment_request = _lock(appointment_request)
    if not appointment_request.is_open:
        raise RequestRefused(_("This request is already settled and cannot be withdrawn."))
    appointment_request.status = AppointmentRequest.Status.WITHDRAWN
    appointment_request.save(update_fields=["status", "updated_at"])
    appointment_request.offers.filter(status=SlotOffer.Status.OPEN).update(
        status=SlotOffer.Status.WITHDRAWN, responded_at=timezone.now()
    )
    record_write(actor, access, "appointment_request.withdraw", obj=appointment_request)
    return appointment_request


def offer_is_open(offer: SlotOffer, now: dt.datetime | None = None) -> bool:
    """Whether the patient may still accept the offer (its slot may yet be taken by then)."""
    return offer.status == SlotOffer.Status.OPEN and offer.expires_at > (now or timezone.now())


@transaction.atomic
def do_accept_request_offer(actor: Actor, access: PatientAccess, offer: SlotOffer) -> Appointment:
    """Book the offered time; raises `RequestRefused`, `booking.SlotTaken` or `BookingRefused`."""
    offer = (
        # Lock only the offer: its request is an outer join, which PostgreSQL will not lock.
        SlotOffer.objects.select_for_update(of=("self",))
        .select_related("slot__template", "visit_type", "request")
        .get(pk=offer.pk)
    )
    appointment_request = offer.request
    if (
        offer.kind != SlotOffer.Kind.REQUEST
        or appointment_request is None
        or not appointment_request.is_open
        or not offer_is_open(offer)
    ):
        raise RequestRefused(_("This time is no longer offered. Choose another or ask the desk again."))
    appointment = booking.do_book_appointment(
        actor,
        access,
        offer.slot,
        offer.visit_type,
        reason=appointment_request.reason[:500],
        via=Appointment.Via.REQUEST,
        request=appointment_request,
        offer=offer,
    )
    record_write(actor, access, "appointment_request.accept_offer", obj=appointment_request)
    return appointment
