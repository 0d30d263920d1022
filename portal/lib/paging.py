"""Keyset pagination: pages cost the same however deep the history goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of rows, newest first, and the cursor for the next (older) page."""

    items: list[M]
    next_cursor: str | None


def keyset_page(queryset: models.QuerySet[M], cursor: Any, size: int, key: str = "pk") -> Page[M]:
    """Rows ordered by `key` descending, strictly older than `cursor` (a key value)."""
    queryset = queryset.order_by(f"-{key}")
    try:
        before = int(cursor) if cursor not in (None, "") else None
    except (TypeError, ValueError):
        before = None
    if before is not None:
        queryset = queryset.filter(**{f"{key}__lt": before})
    rows = list(queryset[: size + 1])
    items = rows[:size]
    next_cursor = str(getattr(items[-1], key)) if len(rows) > size else None
    return Page(items, next_cursor)
