"""Visit times read in the campus's own zone, labelled, on both sides of daylight saving."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from portal.lib.campus_time import date_label, time_label, when_label

UTC = dt.UTC


@dataclass
class FakeCampus:
    time_zone: str
    zone_label: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


PHOENIX = FakeCampus("America/Phoenix", "Arizona time")
CHICAGO = FakeCampus("America/Chicago", "Central time")
NEW_YORK = FakeCampus("America/New_York", "Eastern time")
LONDON = FakeCampus("Europe/London", "UK time")

WINTER = dt.datetime(2027, 1, 12, 16, 0, tzinfo=UTC)
SUMMER = dt.datetime(2027, 7, 13, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("campus", "instant", "expected"),
    [
        (PHOENIX, WINTER, "9:00 AM MST (Arizona time)"),
        (PHOENIX, SUMMER, "9:00 AM MST (Arizona time)"),  # Arizona keeps standard time all year
        (CHICAGO, WINTER, "10:00 AM CST (Central time)"),
        (CHICAGO, SUMMER, "11:00 AM CDT (Central time)"),
        (NEW_YORK, WINTER, "11:00 AM EST (Eastern time)"),
        (NEW_YORK, SUMMER, "12:00 PM EDT (Eastern time)"),
        (LONDON, WINTER, "4:00 PM GMT (UK time)"),
        (LONDON, SUMMER, "5:00 PM BST (UK time)"),
    ],
)
def test_time_is_the_campus_wall_clock_with_its_abbreviation(
    campus: FakeCampus, instant: dt.datetime, expected: str
) -> None:
    with translation.override("en"):
        assert time_label(instant, campus) == expected


def test_the_date_is_the_campus_date_not_utc() -> None:
    late_evening_in_phoenix = dt.datetime(2027, 1, 13, 5, 30, tzinfo=UTC)  # 10:30 PM on the 12th
    with translation.override("en"):
        assert date_label(late_evening_in_phoenix, PHOENIX) == "Tuesday, January 12, 2027"
        assert when_label(late_evening_in_phoenix, PHOENIX).endswith("10:30 PM MST (Arizona time)")


def test_the_same_instant_on_the_day_the_clocks_change() -> None:
    # 2027-03-14 is the US spring-forward day; London changes two weeks later.
    before = dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 1:30 AM CST in Chicago
    after = dt.datetime(2027, 3, 14, 8, 30, tzinfo=UTC)  # 3:30 AM CDT: 2:30 never happened
    with translation.override("en"):
        assert time_label(before, CHICAGO) == "1:30 AM CST (Central time)"
        assert time_label(after, CHICAGO) == "3:30 AM CDT (Central time)"
        assert time_label(after, LONDON) == "8:30 AM GMT (UK time)"
