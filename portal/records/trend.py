"""The trend chart of one test: geometry for a server-drawn SVG, readable without script.

`build_chart` turns a test's past values into coordinates, axis ticks and a shaded
normal range; `records/includes/trend_chart.html` draws them with presentation
attributes only, so the chart prints and shows without the site's stylesheet. The chart
carries its own words (`title`, `description`) for screen readers; the table beside it
has every value with its flag.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.records.models import Observation

# The chart shows at most this many of the latest values; the table pages through all of them.
MAX_POINTS = 100
WIDTH, HEIGHT = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 28, 56
Y_TICKS = 5
X_TICKS = 3


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    abnormal: bool


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Band:
    """The normal range as a shaded rectangle (y is the top edge)."""

    y: float
    height: float


@dataclass(frozen=True)
class TrendChart:
    title: str
    description: str
    unit: str
    points: list[Point]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    band: Band | None
    left_out: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def plot_width(self) -> int:
        return self.plot_right - self.plot_left

    @property
    def line(self) -> str:
        """The `points` attribute of the polyline joining the values, oldest first."""
        return " ".join(f"{point.x},{point.y}" for point in self.points)


def build_chart(name: str, observations: Sequence[Observation]) -> TrendChart | None:
    """A chart of the numeric values among `observations` (newest first), or None if there are none.

    Only values in the latest value's unit are drawn: mixing units on one axis would mislead.
    """
    numeric = [row for row in observations[:MAX_POINTS] if row.value_number is not None]
    if not numeric:
        return None
    latest = numeric[0]
    same_unit = [row for row in numeric if row.unit == latest.unit]
    rows = list(reversed(same_unit))  # oldest first, left to right
    low, high = latest.range_low, latest.range_high
    values = [float(row.value_number) for row in rows if row.value_number is not None]
    bounds = values + [float(limit) for limit in (low, high) if limit is not None]
    bottom, top, step = _nice_scale(min(bounds), max(bounds))
    y_of = _Linear(bottom, top, HEIGHT - BOTTOM, TOP)
    times = [row.effective_at.timestamp() for row in rows]
    x_of = _Linear(min(times), max(times), LEFT + 16, WIDTH - RIGHT - 4)
    points = [
        Point(round(x_of(time), 1), round(y_of(value), 1), _point_label(row), row.is_abnormal)
        for row, time, value in zip(rows, times, values, strict=True)
    ]
    return TrendChart(
        title=_title(name, rows),
        description=_description(latest, len(observations[:MAX_POINTS]) > len(rows)),
        unit=latest.unit,
        points=points,
        x_ticks=_x_ticks(rows, x_of),
        y_ticks=[Tick(round(y_of(value), 1), _number(value, step)) for value in _steps(bottom, top, step)],
        band=_band(low, high, bottom, top, y_of),
        left_out=len(numeric) - len(same_unit),
    )


@dataclass(frozen=True)
class _Linear:
    start: float
    end: float
    out_start: float
    out_end: float

    def __call__(self, value: float) -> float:
        if self.end == self.start:
            return (self.out_start + self.out_end) / 2
        share = (value - self.start) / (self.end - self.start)
        return self.out_start + share * (self.out_end - self.out_start)


def _nice_scale(low: float, high: float) -> tuple[float, float, float]:
    """Round axis ends and a tick step (1, 2, 2.5 or 5 times a power of ten) around the values."""
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / (Y_TICKS - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    bottom = math.floor(low / step) * step
    top = math.ceil(high / step) * step
    return bottom, top, step


def _steps(bottom: float, top: float, step: float) -> list[float]:
    count = round((top - bottom) / step)
    return [bottom + index * step for index in range(count + 1)]


def _number(value: float, step: float) -> str:
    decimals = max(
        0, -math.floor(math.log10(step)) + (1 if step / 10 ** math.floor(math.log10(step)) == 2.5 else 0)
    )
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text


def _band(low: Decimal | None, high: Decimal | None, bottom: float, top: float, y_of: _Linear) -> Band | None:
    if low is None and high is None:
        return None
    upper = y_of(float(high) if high is not None else top)
    lower = y_of(float(low) if low is not None else bottom)
    return Band(round(upper, 1), round(lower - upper, 1))


def _x_ticks(rows: list[Observation], x_of: _Linear) -> list[Tick]:
    """Dates under the axis: the first and last value and a few evenly spaced between."""
    first, last = rows[0].effective_at, rows[-1].effective_at
    if first == last:
        return [Tick(round(x_of(first.timestamp()), 1), _day(first))]
    span = (last - first) / X_TICKS
    moments = [first + span * index for index in range(X_TICKS + 1)]
    return [Tick(round(x_of(moment.timestamp()), 1), _day(moment)) for moment in moments]


def _day(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment).date(), "SHORT_DATE_FORMAT")


def _flag_words(row: Observation) -> str:
    return str(row.get_interpretation_display()) if row.interpretation else ""


def _point_label(row: Observation) -> str:
    flag = _flag_words(row)
    text = f"{_day(row.effective_at)}: {row.display_value}"
    return f"{text}, {flag}" if flag else text


def _title(name: str, rows: list[Observation]) -> str:
    return ngettext(
        "%(name)s: %(count)d value from %(first)s to %(last)s",
        "%(name)s: %(count)d values from %(first)s to %(last)s",
        len(rows),
    ) % {
        "name": name,
        "count": len(rows),
        "first": _day(rows[0].effective_at),
        "last": _day(rows[-1].effective_at),
    }


def _description(latest: Observation, some_left_out: bool) -> str:
    parts = [_("Latest %(value)s") % {"value": latest.display_value}]
    flag = _flag_words(latest)
    if flag:
        parts[0] += f", {flag.lower()}"
    if latest.display_range:
        parts.append(_("Normal range %(range)s, shaded") % {"range": latest.display_range})
    if some_left_out:
        parts.append(_("Values in other units or without a number are in the table only"))
    return ". ".join(parts) + "."
