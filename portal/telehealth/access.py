"""Loading video visits for the user, through the one access policy (e-visits: `evisit_access.py`).

Patient side: the patient, or a proxy who may see their health record (the view scope:
a call is a consultation, not an appointment to manage), opens a video visit. Staff
side: the clinician the visit is booked with hosts it, and a second clinician or an
interpreter they invited joins it until a while after the visit's window has closed
(`patients.access.visit_access`). Once in a visit, every signaling and chat request is
checked again against the person's seat and their right to it (`require_seat`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from portal.patients.access import PatientAccess, decide, refuse, visit_access
from portal.patients.models import Scope
from portal.scheduling.access import require_appointment
from portal.scheduling.models import Appointment
from portal.telehealth.models import Participant, VideoVisit

LIVE_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.ARRIVED)
INVITED_ROLES = (Participant.Role.CLINICIAN, Participant.Role.INTERPRETER)
# An invitation lets its holder open the visit's page for a while after the call could
# last be joined (to read what happened, or leave); after that only the host keeps it.
INVITATION_OUTLASTS_WINDOW_BY = dt.timedelta(hours=2)


def opens_at(appointment: Appointment) -> dt.datetime:
    return appointment.starts_at - dt.timedelta(minutes=settings.PORTAL_VIDEO_OPENS_MINUTES_BEFORE)


def closes_at(appointment: Appointment) -> dt.datetime:
    return appointment.ends_at + dt.timedelta(minutes=settings.PORTAL_VIDEO_CLOSES_MINUTES_AFTER)


def is_joinable(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """A live video appointment inside its window (opens shortly before, closes a while after)."""
    now = now or timezone.now()
    in_window = (
        appointment.is_video
        and appointment.status in LIVE_STATUSES
        and opens_at(appointment) <= now <= closes_at(appointment)
    )
    return in_window and not _call_ended(appointment)


def _call_ended(appointment: Appointment) -> bool:
    """The clinician ended the call (asked only inside the window: a handful of appointments at most)."""
    cache = appointment._state.fields_cache
    if "video_visit" in cache:  # loaded with select_related("video_visit"), None when never opened
        return cache["video_visit"] is not None and bool(cache["video_visit"].is_ended)
    return VideoVisit.objects.filter(appointment=appointment, status=VideoVisit.Status.ENDED).exists()


def invitation_in_force(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """Whether an invitation to this visit still gives access (its window closed less than 2 hours ago)."""
    return (now or timezone.now()) <= closes_at(appointment) + INVITATION_OUTLASTS_WINDOW_BY


def may_join_video(access: PatientAccess) -> bool:
    """The patient's side of a video visit: the patient, or a proxy who may see their record."""
    return not access.is_staff_access and access.allows(Scope.VIEW)


def video_visit_of(appointment: Appointment) -> VideoVisit:
    """The appointment's video visit, made the first time anyone opens it."""
    visit, _created = VideoVisit.objects.get_or_create(appointment=appointment)
    return visit


def require_patient_visit(request: HttpRequest, appointment_id: Any) -> tuple[Appointment, PatientAccess]:
    """A video appointment for the patient or their proxy with the view scope, or the 404 a missing one gets.

    A proxy who may only manage the patient's appointments (the schedule scope) sees the
    appointment on the appointment pages but may not join the consultation itself.
    """
    appointment, access = require_appointment(request, appointment_id, side="patient")
    if not appointment.is_video or not may_join_video(access):
        refuse(request, appointment.patient, what="telehealth.videovisit", lookup=str(appointment_id))
    return appointment, access


def require_staff_visit(request: HttpRequest, appointment_id: Any) -> tuple[Appointment, PatientAccess]:
    """A video appointment for its clinician or staff they invited, or the 404 (audited)."""
    appointment = (
        Appointment.objects.select_related("patient", "visit_type", "practitioner", "campus", "department")
        .filter(pk=as_int(appointment_id), mode="video")
        .first()
    )
    access = None
    if appointment is not None:
        # Only an invitation counts (a seat kept from hosting before the visit was moved to
        # another clinician does not), and only until a while after the window closed.
        invited = invitation_in_force(appointment) and (
            Participant.objects.filter(
                visit__appointment=appointment, user_id=request.user.pk or 0, role__in=INVITED_ROLES
            )
            .exclude(status=Participant.Status.REMOVED)
            .exists()
        )
        access = visit_access(
            request.user, appointment.patient, booked_with=appointment.practitioner_id, invited=invited
        )
    if appointment is None or access is None:
        refuse(
            request,
            appointment.patient if appointment else None,
            what="telehealth.videovisit",
            lookup=str(appointment_id),
        )
    return appointment, access  # type: ignore[return-value]


@dataclass(frozen=True)
class Seat:
    """The requesting user's place in a visit they have joined, with their right re-checked."""

    participant: Participant
    visit: VideoVisit
    appointment: Appointment
    access: PatientAccess


def require_seat(request: HttpRequest, appointment_id: Any) -> Seat:
    """The user's seat in the visit (joined, waiting or admitted), or the 404 (audited).

    The seat alone is not enough: the right that let them join is decided again, so a
    revoked proxy grant or a withdrawn invitation ends their part at the next request.
    """
    participant = (
        Participant.objects.select_related(
            "visit__appointment__patient", "visit__appointment__practitioner", "visit__appointment__campus"
        )
        .filter(visit__appointment_id=as_int(appointment_id), user_id=request.user.pk or 0)
        .exclude(status__in=(Participant.Status.REMOVED, Participant.Status.INVITED))
        .first()
    )
    access = _seat_access(request, participant) if participant is not None else None
    if participant is None or access is None:
        patient = participant.visit.appointment.patient if participant is not None else None
        refuse(request, patient, what="telehealth.participant", lookup=str(appointment_id))
    return Seat(participant, participant.visit, participant.visit.appointment, access)  # type: ignore[union-attr,arg-type]


def _seat_access(request: HttpRequest, participant: Participant) -> PatientAccess | None:
    appointment = participant.visit.appointment
    if participant.on_patient_side:
        access = decide(request.user, appointment.patient)
        return access if access is not None and may_join_video(access) else None
    return visit_access(
        request.user,
        appointment.patient,
        booked_with=appointment.practitioner_id,
        invited=participant.role in INVITED_ROLES and invitation_in_force(appointment),
    )


def hosted_visits(user: Any) -> models.QuerySet[Appointment]:
    """Video appointments the user hosts or is invited to (their own practitioner's, or by an
    invitation still in force: see `require_staff_visit`)."""
    practitioner_id = getattr(getattr(user, "practitioner", None), "pk", None)
    invited = Participant.objects.filter(user=user, role__in=INVITED_ROLES).exclude(
        status=Participant.Status.REMOVED
    )
    # `invitation_in_force` as a filter: the window closes CLOSES_MINUTES_AFTER the end.
    ended_after = (
        timezone.now()
        - INVITATION_OUTLASTS_WINDOW_BY
        - dt.timedelta(minutes=settings.PORTAL_VIDEO_CLOSES_MINUTES_AFTER)
    )
    return Appointment.objects.filter(mode="video").filter(
        models.Q(practitioner_id=practitioner_id)
        | models.Q(video_visit__participants__in=invited, ends_at__gte=ended_after)
    )


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
