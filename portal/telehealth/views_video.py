"""The patient's video visit: /video/<appointment>/ (device check, waiting room, call).

One page follows the visit through its states: not open yet (when it opens, in campus
time), the device check and "Join the waiting room", the waiting room that becomes the
call when the clinician admits them (the script swaps them without a reload), and the
end. The patient and their proxies with the view scope only (a proxy who may only
manage appointments does not join the consultation); staff rights never come with a
patient page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_read
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.access import LIVE_STATUSES, closes_at, opens_at, require_patient_visit, require_seat
from portal.telehealth.call import call_config
from portal.telehealth.models import Participant, VideoVisit

IN_VISIT = (Participant.Status.WAITING, Participant.Status.ADMITTED)


def visit_state(appointment: Appointment, visit: VideoVisit | None, participant: Participant | None) -> str:
    """Which page the patient sees: cancelled, ended, early, late, check (device check) or waiting."""
    now = timezone.now()
    if appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NOSHOW):
        return "cancelled"
    if appointment.status == Appointment.Status.FULFILLED or (visit is not None and visit.is_ended):
        return "ended"
    if appointment.status not in LIVE_STATUSES:
        return "cancelled"
    if now < opens_at(appointment):
        return "early"
    if now > closes_at(appointment):
        return "late"
    if participant is not None and participant.status in IN_VISIT:
        return "waiting"
    return "check"


@login_required
@require_GET
def visit(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_patient_visit(request, appointment_id)
    visit = VideoVisit.objects.filter(appointment=appointment).first()
    participant = (
        Participant.objects.filter(visit=visit, user_id=request.user.pk or 0).first()
        if visit is not None
        else None
    )
    state = visit_state(appointment, visit, participant)
    record_read(request, access, "telehealth.video_view", obj=appointment, state=state)
    return render(
        request, f"telehealth/video/{state}.html", _context(request, access, appointment, participant)
    )


def _context(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, participant: Participant | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "access": access,
        "appointment": appointment,
        "campus": appointment.campus,
        "opens_at": opens_at(appointment),
        "opens_minutes": settings.PORTAL_VIDEO_OPENS_MINUTES_BEFORE,
        "participant": participant,
        "rejoining": participant is not None and participant.status == Participant.Status.LEFT,
    }
    if participant is not None and participant.status in IN_VISIT:
        context["video_config"] = call_config(request, participant, appointment, "patient")
    else:
        context["check_text"] = device_check_text()
    return context


def device_check_text() -> dict[str, str]:
    """The pass and fail lines of the device check (device-check.js has no catalogue of its own)."""
    return {
        "checking": _("Checking…"),
        "cameraPass": _("Camera working: you should see yourself above."),
        "cameraFail": _("No picture from the camera."),
        "cameraSkipped": _("Not checked: the camera could not be opened."),
        "micPass": _("Microphone working: we can hear sound."),
        "micListening": _("Listening… say something."),
        "micFail": _("We did not hear anything. Check that your microphone is not muted."),
        "speakerPlaying": _("Playing a tone for one second…"),
        "speakerPass": _("Speaker working."),
        "speakerFail": _("You did not hear the sound. Turn up the volume or try headphones."),
        "connectionPass": _("Connection good: the portal answered in %(ms)s ms."),
        "connectionSlow": _("Connection slow: the portal answered in %(ms)s ms. Video may be choppy."),
        "connectionFail": _("We could not reach the portal. Check your internet connection."),
        "blocked": _("The camera and microphone are blocked."),
        "missing": _("No camera or microphone was found."),
        "unsupported": _("This browser cannot make video calls."),
        "done": _("Check finished."),
    }


@login_required
@require_POST
def join(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_patient_visit(request, appointment_id)
    try:
        video.do_enter_waiting_room(Actor.from_request(request), access, appointment)
    except (video.VisitClosed, video.NotAllowed):
        messages.error(request, _("This video visit cannot be joined now."))
    return redirect("video:visit", appointment.pk)


@login_required
@require_POST
def leave(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Anyone with a seat leaves the call (staff too: the call UI is shared); they may come back."""
    seat = require_seat(request, appointment_id)
    video.do_leave(Actor.from_request(request), seat.access, seat.participant)
    if seat.participant.on_patient_side:
        messages.info(
            request,
            _(
                "You left the visit. You can join again until the clinician ends it: they will let you back in."
            ),
        )
        return redirect("video:visit", seat.appointment.pk)
    messages.info(request, _("You left the call."))
    return redirect(reverse("staff_video:visit", args=[seat.appointment.pk]))
