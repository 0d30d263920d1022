"""The patient's "this looks wrong" form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_TEXT = 4000


class AmendmentRequestForm(forms.Form):
    description = forms.CharField(
        label=_("What looks wrong?"),
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("For example: a medication you never took, a wrong date, or an allergy you do not have."),
        error_messages={"required": _("Tell us what looks wrong.")},
    )
    proposed_change = forms.CharField(
        label=_("What should it say?"),
        max_length=MAX_TEXT,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Optional. If you know what the record should say, tell us."),
    )
