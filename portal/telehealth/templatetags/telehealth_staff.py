"""`user|does_video_visits`: whether the staff menu shows the video visits workspace."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def does_video_visits(user: Any) -> bool:
    """Clinicians and interpreters (with an active practitioner record) host or join video visits."""
    from portal.telehealth.staff_video_lists import video_staff

    return video_staff(user)
