"""Opening hours, read in the campus's own time zone."""

from __future__ import annotations

import datetime as dt

from portal.organization.models import Campus, OpeningHours


def hours_today(
    campus: Campus, service: str = OpeningHours.Service.CAMPUS, now: dt.datetime | None = None
) -> list[OpeningHours]:
    """Today's opening periods at the campus, where 'today' is the campus's own date.

    Uses prefetched `opening_hours` when the caller loaded them.
    """
    local = (now or campus.local_now()).astimezone(campus.zone)
    return [
        period
        for period in campus.opening_hours.all()
        if period.service == service and period.weekday == local.weekday()
    ]


def weekly_hours(campus: Campus, service: str = OpeningHours.Service.CAMPUS) -> list[OpeningHours]:
    return [period for period in campus.opening_hours.all() if period.service == service]
