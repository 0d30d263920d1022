"""Showing an instant in a campus's own time zone, always labelled.

Patients travel between campuses, so a visit time is never shown in the viewer's zone:
"9:00 AM MST (Arizona time)" is 9:00 at the Phoenix campus whatever the patient's
phone says. The abbreviation comes from the zone database for that very instant, so it
reads CST in January and CDT in July; the label is the campus's own ("Central time").
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext as _


class HasZone(Protocol):
    @property
    def zone(self) -> ZoneInfo: ...

    zone_label: str


def local(instant: dt.datetime, campus: HasZone) -> dt.datetime:
    return instant.astimezone(campus.zone)


def time_label(instant: dt.datetime, campus: HasZone) -> str:
    """ "9:00 AM MST (Arizona time)"."""
    moment = local(instant, campus)
    # Translators: a clock time in PHP date() notation; "g:i A" is "9:00 AM", use "H:i" for 24-hour.
    clock = formats.date_format(moment, _("g:i A"))
    return _("%(time)s %(abbreviation)s (%(zone)s)") % {
        "time": clock,
        "abbreviation": moment.tzname() or "",
        "zone": campus.zone_label,
    }


def date_label(instant: dt.datetime, campus: HasZone) -> str:
    """The campus-local date, e.g. "Tuesday, December 1, 2026"."""
    return formats.date_format(local(instant, campus), _("l, F j, Y"))


def when_label(instant: dt.datetime, campus: HasZone) -> str:
    """Date and time together: "Tuesday, December 1, 2026, 9:00 AM CST (Central time)"."""
    return _("%(date)s, %(time)s") % {
        "date": date_label(instant, campus),
        "time": time_label(instant, campus),
    }
