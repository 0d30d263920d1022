"""Keyset pages of record rows by date, newest first, ties broken by id.

`portal.lib.paging.keyset_page` pages by one integer key. Record rows are ordered by
when they happened, which is not the order they were stored in (an import brings old
results after new ones), so the cursor here is the pair (date, id) of the last row
shown. It is written as two integers (microseconds since 1970 for a date and time, the
day number for a date) so it travels in a URL unchanged. A cursor that does not parse
starts again at the newest row rather than failing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q

from portal.lib.paging import Page

M = TypeVar("M", bound=models.Model)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_INT = 2**62


def dated_page(queryset: models.QuerySet[M], cursor: Any, size: int, field: str) -> Page[M]:
    """Rows ordered by `field` then id, both descending, strictly after `cursor`."""
    queryset = queryset.order_by(f"-{field}", "-id")
    is_datetime = isinstance(queryset.model._meta.get_field(field), models.DateTimeField)
    after = _parse(cursor, is_datetime)
    if after is not None:
        when, pk = after
        queryset = queryset.filter(Q(**{f"{field}__lt": when}) | Q(**{field: when, "id__lt": pk}))
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = _cursor(getattr(items[-1], field), items[-1].pk) if len(rows) > size else None
    return Page(items, next_cursor)


def _cursor(value: dt.date, pk: int) -> str:
    if isinstance(value, dt.datetime):
        delta = value - EPOCH
        number = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    else:
        number = value.toordinal()
    return f"{number}_{pk}"


def _parse(cursor: Any, is_datetime: bool) -> tuple[dt.date, int] | None:
    if not isinstance(cursor, str) or cursor.count("_") != 1:
        return None
    number_text, pk_text = cursor.split("_")
    try:
        number, pk = int(number_text), int(pk_text)
    except ValueError:
        return None
    if not (0 < pk < MAX_INT and abs(number) < MAX_INT):
        return None
    try:
        if is_datetime:
            return EPOCH + dt.timedelta(microseconds=number), pk
        return dt.date.fromordinal(number), pk
    except (OverflowError, ValueError):
        return None
