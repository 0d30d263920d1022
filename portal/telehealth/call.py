"""What a video visit's page tells its script: where to poll and signal, who it is, how to connect.

The same call UI (`telehealth/includes/call.html` + `static/js/video-visit.js`) runs on the
patient's page and on the staff page; `call_config` is the one place that decides what it
is given. The page renders it with `{{ video_config|json_script:"video-config" }}`.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.scheduling.models import Appointment
from portal.telehealth import ice
from portal.telehealth.models import Participant

Side = Literal["patient", "staff"]


def call_config(
    request: HttpRequest, participant: Participant, appointment: Appointment, side: Side
) -> dict[str, Any]:
    """The JSON contract of the call page (see helper notes / docs): endpoints, identity, ICE, timing.

    Beyond the contract's keys: the host's `endUrl` (end the visit for everyone),
    `admitUrl` (admit one person or everyone waiting) and `removeUrl` (send someone back
    to the waiting room), empty for everyone else; `text` (the script's status lines) and
    `roleNames` (each participant role's label), translated here because the script has
    no catalogue.
    """
    args = [appointment.pk]
    is_host = (
        participant.role == Participant.Role.HOST and appointment.practitioner.user_id == participant.user_id
    )
    return {
        "api": {
            "poll": reverse("video_api:poll", args=args),
            "signal": reverse("video_api:signal", args=args),
            "chat": reverse("video_api:chat", args=args),
        },
        "me": participant.pk,
        "side": side,
        "iceServers": ice.ice_servers(participant.pk),
        "loopbackOnly": bool(settings.PORTAL_VIDEO_LOOPBACK_ONLY),
        "pollMs": int(settings.PORTAL_VIDEO_POLL_MS),
        "leaveUrl": reverse("video:leave", args=args),
        "endUrl": reverse("staff_video:end", args=args) if is_host else "",
        "admitUrl": reverse("staff_video:admit", args=args) if is_host else "",
        "removeUrl": reverse("staff_video:remove", args=args) if is_host else "",
        "phone": appointment.campus.appointments_phone,
        "canShareScreen": side == "staff",
        "text": call_text(appointment.campus.appointments_phone),
        "roleNames": {str(value): str(label) for value, label in Participant.Role.choices},
    }


def call_text(phone: str) -> dict[str, str]:
    """The lines the script shows as the call changes (kept here so they are translated)."""
    return {
        "connecting": _("Connecting…"),
        "waitingForOthers": _("You are in the visit. Waiting for the others to connect…"),
        "connected": _("Connected."),
        "reconnecting": _("Reconnecting… Please keep this page open."),
        "reconnected": _("Connected again."),
        "otherWindow": _("You joined from another window. This window has stopped; use the other one."),
        "ended": _("The visit has ended."),
        "left": _("You left the visit."),
        "removed": _("You are no longer in this visit."),
        "signedOut": _("You were signed out. Sign in again and reopen the visit to go back in."),
        "waiting": _("You are in the waiting room."),
        "admitted": _("Your clinician let you in. Starting the video…"),
        "sentBack": _("Your clinician moved you back to the waiting room. Please keep this page open."),
        "placeOne": _("You are next."),
        "place": _("Your place in line: %(place)s."),
        "hostTold": _("Your clinician has been told you are here."),
        "hostSeen": _("Your clinician has seen that you are waiting."),
        "cameraBlocked": _(
            "Your camera or microphone is blocked. Allow them in your browser's site settings "
            "(the camera icon in the address bar) and reload the page, or call us at %(phone)s."
        )
        % {"phone": phone},
        "noDevices": _("No camera or microphone was found. You can still see and hear the others."),
        "noWebrtc": _("This browser cannot make video calls. Please call us at %(phone)s.")
        % {"phone": phone},
        "muted": _("Microphone off"),
        "unmuted": _("Microphone on"),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
        "cameraOff": _("Turn camera off"),
        "cameraOn": _("Turn camera on"),
        "shareScreen": _("Share screen"),
        "stopShare": _("Stop sharing"),
        "shareFailed": _("Screen sharing did not start."),
        "videoLive": _("Video: receiving"),
        "videoNone": _("Video: not yet receiving"),
        "peerJoined": _("%(name)s joined."),
        "peerLeft": _("%(name)s left."),
        "chatFailed": _("Your message was not sent. Try again."),
        "admit": _("Admit"),
        "sendBack": _("Send back to the waiting room"),
        "actionFailed": _("That did not work. Try again."),
        "you": _("You"),
    }
