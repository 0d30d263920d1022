"""Invented data for the demo and the benchmarks: the organisation, patients, sign-ins.

Seeding loads data directly instead of going through the apps' `actions.py`: it is bulk
loading of people who do not exist, not something anyone did, so it writes no audit
events. The demo sign-ins' proxy grants are the one exception; they go through the real
action so the demo's access log has something true to show.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.db import models

# Generated histories are dated relative to an anchor the caller passes in, never to the
# clock, so the same seed gives the same people whenever it runs.
DEFAULT_ANCHOR = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)

# Clinic numbers 10000000-19999999 are kept for hand-made records (demo sign-ins,
# the benchmark's heavy patient); generated patients draw from the rest.
RESERVED_CLINIC_NUMBERS = range(10_000_000, 20_000_000)
GENERATED_CLINIC_NUMBERS = range(20_000_000, 100_000_000)


@contextlib.contextmanager
def given_timestamps(model: type[models.Model], *field_names: str) -> Iterator[None]:
    """Let `bulk_create` keep the values we set on `auto_now_add` fields.

    Django overwrites those fields with the current time on insert, which would date a
    ten-year history to this afternoon. Only seeding processes use this, one thread at a
    time, so briefly switching the flag on the shared field is safe there.
    """
    fields = [_date_field(model, name) for name in field_names]
    saved = [field.auto_now_add for field in fields]
    try:
        for field in fields:
            field.auto_now_add = False
        yield
    finally:
        for field, value in zip(fields, saved, strict=True):
            field.auto_now_add = value


def _date_field(model: type[models.Model], name: str) -> models.DateField:
    field = model._meta.get_field(name)
    if not isinstance(field, models.DateField):
        raise TypeError(f"{model.__name__}.{name} is not a date or datetime field")
    return field
