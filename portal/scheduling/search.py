"""Finding open slots: for a visit type at a campus, optionally with one clinician.

One query whatever the window: the `slot_search` index (campus, department, status,
starts_at) narrows to the open slots of the department at the campus, the join to the
template's visit types keeps those the visit type may use, and the results are read in
start order up to `limit`. Paging is by (starts_at, id): `after` is the last slot shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.organization.models import Campus, Practitioner
from portal.scheduling.booking import earliest_bookable
from portal.scheduling.models import Slot, VisitType

DEFAULT_LIMIT = 40


def open_slots(
    visit_type: VisitType,
    campus: Campus,
    *,
    practitioner: Practitioner | None = None,
    start: dt.datetime | None = None,
    days: int | None = None,
    for_desk: bool = False,
) -> QuerySet[Slot]:
    """Open, unheld slots the visit type can use at the campus within the search window."""
    now = timezone.now()
    soonest = now if for_desk else earliest_bookable(now)
    start = max(start or soonest, soonest)
    days = settings.PORTAL_SLOT_SEARCH_DAYS if days is None else days
    slots = Slot.objects.filter(
        campus=campus,
        status=Slot.Status.OPEN,
        starts_at__gte=start,
        starts_at__lt=now + dt.timedelta(days=days),
        template__visit_types=visit_type,
    ).filter(Q(held_until__isnull=True) | Q(held_until__lte=now))
    if visit_type.department_id is not None:
        slots = slots.filter(department_id=visit_type.department_id)
    if practitioner is not None:
        slots = slots.filter(practitioner=practitioner)
    return slots.select_related("practitioner", "campus", "department").order_by("starts_at", "id")


def find_open_slots(
    visit_type: VisitType,
    campus: Campus,
    *,
    practitioner: Practitioner | None = None,
    after: Slot | None = None,
    limit: int = DEFAULT_LIMIT,
    for_desk: bool = False,
) -> list[Slot]:
    """The next `limit` open slots, after `after` (the last one already shown) if given."""
    slots = open_slots(visit_type, campus, practitioner=practitioner, for_desk=for_desk)
    if after is not None:
        slots = slots.filter(Q(starts_at__gt=after.starts_at) | Q(starts_at=after.starts_at, id__gt=after.pk))
    # Schedules only list visit types that fit their slots; this guards against one edited since.
    return [slot for slot in slots[:limit] if slot.minutes >= visit_type.duration_minutes]


@dataclass(frozen=True)
class Day:
    """A campus-local day and its slots, for pages that list slots day by day."""

    date: dt.date
    slots: list[Slot]


def by_campus_day(slots: Iterable[Slot]) -> list[Day]:
    """Group slots (in start order) by their date in their campus's zone."""
    return [
        Day(date, list(group))
        for date, group in groupby(slots, key=lambda slot: slot.starts_at.astimezone(slot.campus.zone).date())
    ]
