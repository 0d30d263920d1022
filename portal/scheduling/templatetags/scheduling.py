"""Template filters for appointments: times in the campus's own zone, labelled."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from portal.lib import campus_time
from portal.organization.models import Campus

register = template.Library()


@register.filter
def campus_time_label(value: dt.datetime | None, campus: Campus) -> str:
    """{{ appointment.starts_at|campus_time_label:appointment.campus }} -> "9:00 AM MST (Arizona time)"."""
    return campus_time.time_label(value, campus) if value else ""


@register.filter
def campus_date(value: dt.datetime | None, campus: Campus) -> str:
    """The campus-local date: "Tuesday, December 1, 2026"."""
    return campus_time.date_label(value, campus) if value else ""


@register.filter
def campus_when(value: dt.datetime | None, campus: Campus) -> str:
    """Date and labelled time together."""
    return campus_time.when_label(value, campus) if value else ""


@register.filter
def works_on_a_desk(user: Any) -> bool:
    """Whether the staff navigation shows the scheduling desk."""
    from portal.scheduling.access import desk_campuses

    return desk_campuses(user).exists()


@register.filter
def sees_schedules(user: Any) -> bool:
    """Whether the staff navigation shows clinicians' schedules (desks, clinicians, administrators)."""
    from portal.scheduling.actions_schedules import rights_of

    return rights_of(user).any
