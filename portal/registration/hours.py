"""Opening hours in a few readable lines: "Monday to Friday, 7:00 to 18:00"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from portal.organization.models import OpeningHours

Periods = tuple[tuple[dt.time, dt.time], ...]


@dataclass(frozen=True)
class HoursLine:
    """Consecutive weekdays that share the same opening periods."""

    days: str
    periods: Periods


def summarize(hours: Iterable[OpeningHours]) -> list[HoursLine]:
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for period in sorted(hours, key=lambda row: (row.weekday, row.opens)):
        by_day.setdefault(period.weekday, []).append((period.opens, period.closes))
    lines: list[HoursLine] = []
    run: list[int] = []
    for weekday in sorted(by_day):
        if run and weekday == run[-1] + 1 and by_day[weekday] == by_day[run[0]]:
            run.append(weekday)
            continue
        if run:
            lines.append(_line(run, by_day[run[0]]))
        run = [weekday]
    if run:
        lines.append(_line(run, by_day[run[0]]))
    return lines


def _line(run: list[int], periods: list[tuple[dt.time, dt.time]]) -> HoursLine:
    first, last = (OpeningHours.Weekday(day).label for day in (run[0], run[-1]))
    days = str(first) if len(run) == 1 else _("%(first)s to %(last)s") % {"first": first, "last": last}
    return HoursLine(days, tuple(periods))
