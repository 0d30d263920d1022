"""Template filters for video visits on other apps' pages (the patient's appointment list and detail)."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import timezone

from portal.scheduling.models import Appointment
from portal.telehealth.access import LIVE_STATUSES, is_joinable, opens_at

register = template.Library()


@register.filter
def video_join_state(appointment: Appointment) -> str:
    """ "open" (the patient can join now), "soon" (a live video visit not open yet) or ""."""
    if not appointment.is_video:
        return ""
    now = timezone.now()
    if is_joinable(appointment, now):
        return "open"
    if appointment.status in LIVE_STATUSES and now < opens_at(appointment):
        return "soon"
    return ""


@register.simple_tag
def video_opens_minutes() -> int:
    """How long before the start a video visit opens (PORTAL_VIDEO_OPENS_MINUTES_BEFORE)."""
    return int(settings.PORTAL_VIDEO_OPENS_MINUTES_BEFORE)
