"""The patient's forms on their appointments: cancel, choose a new time, send a notice."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from portal.scheduling.models import PatientNotice

LATE_MINUTES = (5, 10, 15, 20, 30, 45, 60, 90, 120)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you cancelling?"),
        max_length=300,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. It helps the clinic offer the time to someone else."),
    )


class RescheduleForm(forms.Form):
    slot = forms.IntegerField(
        label=_("New time"),
        min_value=1,
        max_value=2**62,
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose one of the times shown.")},
    )


def _late_choices() -> list[tuple[str, str]]:
    # Called when the form renders, so the labels are in the reader's language.
    return [("", gettext("Choose"))] + [
        (str(minutes), ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes})
        for minutes in LATE_MINUTES
    ]


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What do you want to tell the clinic?"),
        choices=PatientNotice.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose running late or cannot come.")},
    )
    minutes = forms.TypedChoiceField(
        label=_("How late will you be?"),
        choices=_late_choices,
        coerce=int,
        required=False,
        empty_value=None,
    )
    note = forms.CharField(
        label=_("Note for the scheduling desk"),
        max_length=500,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == PatientNotice.Kind.RUNNING_LATE and not cleaned.get("minutes"):
            self.add_error("minutes", _("Say how late you will be."))
        if cleaned.get("kind") == PatientNotice.Kind.CANNOT_COME:
            cleaned["minutes"] = None
        return cleaned
