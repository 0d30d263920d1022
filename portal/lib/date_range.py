"""Searching by a range of days: the one check every "from ... to ..." filter form makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext as _

# Any real date, within years a database and a calendar both handle.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)


def check_date_range(form: forms.Form, data: dict[str, Any], start_field: str, end_field: str) -> None:
    """Each day within EARLIEST_DAY..LATEST_DAY, and the end not before the start (errors on the form)."""
    for name in (start_field, end_field):
        day = data.get(name)
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            form.add_error(name, _("Enter a date between 1900 and 2999."))
    start, end = data.get(start_field), data.get(end_field)
    if start and end and end < start and not form.has_error(end_field):
        form.add_error(end_field, _("The end date must be on or after the start date."))
