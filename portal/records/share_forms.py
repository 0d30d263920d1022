"""Forms for choosing part of the record: to print or download it, or to share it by link."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.records.export import Selection
from portal.records.sections import SECTIONS
from portal.records.sharing import EXPIRY_DAYS, MIN_PASSCODE_LENGTH

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a real date, for example 2024-03-31.")},
    )


class SelectionForm(forms.Form):
    """Which sections of the record, between which dates."""

    sections = forms.MultipleChoiceField(
        label=_("Sections"),
        choices=list(SECTIONS.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=list(SECTIONS),
        error_messages={
            "required": _("Choose at least one section."),
            "invalid_choice": _("Choose sections from the list."),
        },
    )
    date_from = _date_field(_("From"))
    date_to = _date_field(_("To"))

    def clean_date_from(self) -> dt.date | None:
        return _in_range(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> dt.date | None:
        return _in_range(self.cleaned_data.get("date_to"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date must be on or after the start date."))
        return cleaned

    def selection(self) -> Selection:
        data = self.cleaned_data
        return Selection.of(data["sections"], data.get("date_from"), data.get("date_to"))


def _in_range(day: dt.date | None) -> dt.date | None:
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        raise forms.ValidationError(_("Enter a date between 1900 and 2999."))
    return day


class ExportForm(SelectionForm):
    """What to download or print, and how."""

    class Format(models.TextChoices):
        PRINT = "print", _("Printable page")
        PDF = "pdf", _("PDF")
        FHIR = "fhir", _("FHIR R4 JSON (for apps)")

    format = forms.ChoiceField(
        label=_("Format"),
        choices=Format.choices,
        widget=forms.RadioSelect,
        initial=Format.PRINT,
        error_messages={
            "required": _("Choose a format."),
            "invalid_choice": _("Choose a format from the list."),
        },
    )


def _expiry_choices() -> list[tuple[str, str]]:
    # Called each time the field is drawn, so the labels are in the request's language.
    return [
        (str(days), ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
        for days in EXPIRY_DAYS
    ]


class ShareLinkForm(SelectionForm):
    """A new share link: who it is for, what it shows, how long it works, and an optional passcode."""

    recipient = forms.CharField(
        label=_("Who is it for?"),
        max_length=200,
        help_text=_("For your own list, for example “Dr Lee, Boston cardiology”."),
        error_messages={"required": _("Say who the link is for.")},
    )
    expires_in = forms.TypedChoiceField(
        label=_("The link works for"),
        choices=_expiry_choices,
        coerce=int,
        initial="7",
        error_messages={"invalid_choice": _("Choose how long the link works from the list.")},
    )
    passcode = forms.CharField(
        label=_("Passcode"),
        required=False,
        min_length=MIN_PASSCODE_LENGTH,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 6 characters. Anyone opening the link must type it. Tell it to them separately, "
            "not in the same message as the link."
        ),
    )

    field_order = ["recipient", "sections", "date_from", "date_to", "expires_in", "passcode"]


class PasscodeForm(forms.Form):
    passcode = forms.CharField(
        label=_("Passcode"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("Type the passcode you were given.")},
    )
