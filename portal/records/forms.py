"""Forms of the patient's record pages: the results filter and the release preferences."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.records.models import ResultReport

# Far enough back for any record, and early enough that date arithmetic cannot overflow.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2200, 12, 31)

AT_ONCE = "now"
AFTER_REVIEW = "review"
RELEASE_CHOICES = [
    (AT_ONCE, _("Show me results as soon as they are ready")),
    (AFTER_REVIEW, _("Wait until my clinician has reviewed them")),
]


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a real date, such as 2025-03-31.")},
    )


def _in_range(day: dt.date | None) -> dt.date | None:
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ValidationError(_("Enter a date between 1900 and 2200."))
    return day


class ResultFilterForm(forms.Form):
    """Narrow the results list by date and type; every field may be left empty."""

    date_from = _date_field(_("From"))
    date_to = _date_field(_("To"))
    category = forms.ChoiceField(
        label=_("Type of result"),
        required=False,
        choices=[("", _("All types")), *ResultReport.Category.choices],
        error_messages={"invalid_choice": _("Choose a type from the list.")},
    )

    def __init__(self, *args: Any, with_category: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_category:
            del self.fields["category"]

    def clean_date_from(self) -> dt.date | None:
        return _in_range(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> dt.date | None:
        return _in_range(self.cleaned_data.get("date_to"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The “to” date must be on or after the “from” date."))
        return cleaned

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


class ReleasePreferencesForm(forms.Form):
    """One choice per result type: see results at once, or after the clinician's review."""

    def __init__(self, *args: Any, waits: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for category, label in ResultReport.Category.choices:
            self.fields[category] = forms.ChoiceField(
                label=label,
                choices=RELEASE_CHOICES,
                widget=forms.RadioSelect,
                initial=AFTER_REVIEW if category in waits else AT_ONCE,
                error_messages={"required": _("Choose when to see these results.")},
            )

    def choices(self) -> dict[str, bool]:
        """Whether to wait for review, by category."""
        return {category: self.cleaned_data[category] == AFTER_REVIEW for category in self.fields}
