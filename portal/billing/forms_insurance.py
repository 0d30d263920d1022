"""Forms of the insurance pages: pre-check-in's coverage form, with the dates the coverage runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.scheduling.forms_checkin import CoverageForm

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class InsuranceForm(CoverageForm):
    """A new plan or a new card, as at pre-check-in, plus optional start and end dates."""

    effective_from = forms.DateField(label=_("Coverage starts"), required=False, widget=DATE_INPUT)
    effective_until = forms.DateField(label=_("Coverage ends"), required=False, widget=DATE_INPUT)

    DATES = ("effective_from", "effective_until")
    field_order = [*CoverageForm.DETAILS, *DATES, "card_front", "card_back", "replaces"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, ends = cleaned.get("effective_from"), cleaned.get("effective_until")
        if starts and ends and ends < starts:
            self.add_error("effective_until", _("The end date is before the start date."))
        return cleaned

    def details(self) -> dict[str, Any]:
        return {**super().details(), **{name: self.cleaned_data[name] for name in self.DATES}}


def replacement_initial(coverage: Any) -> dict[str, Any]:
    """What a replacement form starts with: the plan's details, never its member ID or group number
    (the page would otherwise carry them in full)."""
    return {
        "priority": coverage.priority,
        "payer_name": coverage.payer_name,
        "plan_name": coverage.plan_name,
        "subscriber_name": coverage.subscriber_name,
        "subscriber_relationship": coverage.subscriber_relationship,
        "effective_from": coverage.effective_from,
        "effective_until": coverage.effective_until,
    }
