from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.patients.actions import MIN_BREAK_GLASS_REASON


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name or clinic number"),
        max_length=100,
        required=False,
        strip=True,
    )
    birth_date = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not cleaned.get("q") and not cleaned.get("birth_date"):
            raise forms.ValidationError(_("Enter a name, a clinic number or a date of birth."))
        return cleaned


class BreakGlassForm(forms.Form):
    clinic_number = forms.CharField(label=_("Clinic number"), max_length=12)
    reason = forms.CharField(
        label=_("Reason for emergency access"),
        min_length=MIN_BREAK_GLASS_REASON,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required. Your reason is recorded and reviewed by the privacy office."),
    )
    confirm = forms.BooleanField(
        label=_("I have a legitimate clinical need to see this record now."),
    )
