"""Turning weekly schedule templates into slots, and keeping slots in step with blocks.

Times in a template are the campus's wall-clock times. Each slot's start is converted to
UTC with the campus's zone on its own day, so a 9:00 session is at 9:00 local on both
sides of a daylight-saving change (15:00 UTC in January and 14:00 UTC in July for
Chicago; always 16:00 UTC for Phoenix). A wall-clock time that does not exist on the
day the clocks go forward is skipped; one that happens twice when they go back is
taken the first time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.scheduling.models import ScheduleBlock, ScheduleTemplate, Slot

Interval = tuple[dt.datetime, dt.datetime]
UTC = dt.UTC


def wall_clock_to_utc(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of `time` on `day` in `zone`, or None if that wall-clock time is skipped."""
    local = dt.datetime.combine(day, time, tzinfo=zone)
    instant = local.astimezone(UTC)
    round_trip = instant.astimezone(zone)
    if (round_trip.date(), round_trip.time()) != (day, time):
        return None  # inside the hour the clocks jump over
    return instant


def session_intervals(template: ScheduleTemplate, day: dt.date) -> list[Interval]:
    """The (start, end) UTC intervals of the template's slots on `day`."""
    if not template.runs_on(day):
        return []
    zone = template.campus.zone
    step = dt.timedelta(minutes=template.slot_minutes)
    intervals: list[Interval] = []
    cursor = dt.datetime.combine(day, template.starts)
    session_end = dt.datetime.combine(day, template.ends)
    while cursor + step <= session_end:
        starts_at = wall_clock_to_utc(day, cursor.time(), zone)
        if starts_at is not None:
            # A slot lasts its length in real time, even across a clock change.
            intervals.append((starts_at, starts_at + step))
        cursor += step
    return intervals


def overlaps(interval: Interval, others: Iterable[Interval]) -> bool:
    starts_at, ends_at = interval
    return any(starts_at < other_end and other_start < ends_at for other_start, other_end in others)


def generate_slots(
    templates: Iterable[ScheduleTemplate] | None = None,
    *,
    start: dt.date | None = None,
    days: int | None = None,
) -> int:
    """Create the missing slots of `templates` (all current ones by default) from `start`
    for `days` days; returns how many were created. Safe to run again at any time: it
    only adds, and never a slot that would overlap one the clinician already has.
    """
    start = start or timezone.now().date()
    days = settings.PORTAL_SLOT_HORIZON_DAYS if days is None else days
    end = start + dt.timedelta(days=days)
    if templates is None:
        templates = ScheduleTemplate.objects.exclude(valid_until__lt=start).filter(valid_from__lte=end)
    by_clinician: dict[int, list[ScheduleTemplate]] = defaultdict(list)
    for template in templates:
        by_clinician[template.practitioner_id].append(template)
    created = 0
    for practitioner_id, clinician_templates in by_clinician.items():
        created += _generate_for_clinician(practitioner_id, clinician_templates, start, end)
    return created


class _Taken:
    """The clinician's intervals by UTC day, so each overlap check looks at three days, not all."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self._by_day: dict[dt.date, list[Interval]] = defaultdict(list)
        for interval in intervals:
            self.add(interval)

    def add(self, interval: Interval) -> None:
        self._by_day[interval[0].date()].append(interval)

    def overlaps(self, interval: Interval) -> bool:
        day = interval[0].date()
        return any(
            overlaps(interval, self._by_day.get(day + dt.timedelta(days=offset), ())) for offset in (-1, 0, 1)
        )


def _generate_for_clinician(
    practitioner_id: int, templates: list[ScheduleTemplate], start: dt.date, end: dt.date
) -> int:
    window = (
        dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=UTC),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=UTC),
    )
    taken = _Taken(
        Slot.objects.filter(
            practitioner_id=practitioner_id, starts_at__lt=window[1], ends_at__gt=window[0]
        ).values_list("starts_at", "ends_at")
    )
    # Blocks can last weeks, so they are not bucketed by day; a clinician has few.
    blocks: list[Interval] = list(
        ScheduleBlock.objects.filter(
            practitioner_id=practitioner_id, starts_at__lt=window[1], ends_at__gt=window[0]
        ).values_list("starts_at", "ends_at")
    )
    now = timezone.now()
    new_slots: list[Slot] = []
    day = start
    while day < end:
        for template in templates:
            for interval in session_intervals(template, day):
                if interval[0] <= now or taken.overlaps(interval):
                    continue
                taken.add(interval)
                status = Slot.Status.BLOCKED if overlaps(interval, blocks) else Slot.Status.OPEN
                new_slots.append(
                    Slot(
                        template=template,
                        practitioner_id=practitioner_id,
                        campus_id=template.campus_id,
                        department_id=template.department_id,
                        starts_at=interval[0],
                        ends_at=interval[1],
                        status=status,
                    )
                )
        day += dt.timedelta(days=1)
    # ignore_conflicts: another process generating at the same moment is harmless.
    Slot.objects.bulk_create(new_slots, batch_size=1000, ignore_conflicts=True)
    return len(new_slots)


@transaction.atomic
def apply_block(block: ScheduleBlock) -> int:
    """Block the clinician's open slots the block overlaps; returns how many."""
    return Slot.objects.filter(
        practitioner_id=block.practitioner_id,
        status=Slot.Status.OPEN,
        starts_at__lt=block.ends_at,
        ends_at__gt=block.starts_at,
    ).update(status=Slot.Status.BLOCKED, held_until=None)


@transaction.atomic
def reopen_after_block_removed(practitioner_id: int, starts_at: dt.datetime, ends_at: dt.datetime) -> int:
    """Reopen blocked future slots in the period that no remaining block covers."""
    blocks = list(
        ScheduleBlock.objects.filter(
            practitioner_id=practitioner_id, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).values_list("starts_at", "ends_at")
    )
    blocked = Slot.objects.filter(
        practitioner_id=practitioner_id,
        status=Slot.Status.BLOCKED,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
        starts_at__gt=timezone.now(),
    )
    reopen = [
        slot.pk
        for slot in blocked.select_related("template", "campus")
        if not overlaps((slot.starts_at, slot.ends_at), blocks) and session_still_runs(slot)
    ]
    return Slot.objects.filter(pk__in=reopen, status=Slot.Status.BLOCKED).update(status=Slot.Status.OPEN)


@transaction.atomic
def retire_template_slots(template: ScheduleTemplate) -> int:
    """Block the open future slots a shortened or ended template no longer covers."""
    if template.valid_until is None:
        return 0
    cutoff = dt.datetime.combine(
        template.valid_until + dt.timedelta(days=1), dt.time(), tzinfo=template.campus.zone
    )
    return Slot.objects.filter(template=template, status=Slot.Status.OPEN, starts_at__gte=cutoff).update(
        status=Slot.Status.BLOCKED, held_until=None
    )


def session_still_runs(slot: Slot) -> bool:
    """Whether the slot's session still runs on its day (an ended session's slots stay shut)."""
    return slot.template.runs_on(slot.starts_at.astimezone(slot.campus.zone).date())


def is_blocked_now(slot: Slot) -> bool:
    """Whether a block covers the slot (so a freed slot must not reopen)."""
    return ScheduleBlock.objects.filter(
        practitioner_id=slot.practitioner_id, starts_at__lt=slot.ends_at, ends_at__gt=slot.starts_at
    ).exists()
