"""Staff forms for the record: entering and correcting results and notes, hold rules, answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import DecimalValidator, MaxValueValidator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Practitioner
from portal.records.actions import (
    MIN_CORRECTION_REASON,
    MIN_HOLD_REASON,
    ObservationChange,
    ObservationEntry,
)
from portal.records.models import ClinicalNote, Observation, ResultReport

MAX_TEXT = 4000
MAX_VALUES = 30
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
# Clocks differ a little between the lab and us; a collection time in the future is a typo.
FUTURE_SLACK = dt.timedelta(minutes=10)
NUMBER_DIGITS, NUMBER_PLACES = 16, 4  # as Observation.value_number stores them
FLAG_CHOICES = [("", _("Work it out from the range"))] + [
    (value, label) for value, label in Observation.Interpretation.choices if value
]


def _number_field(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, max_digits=NUMBER_DIGITS, decimal_places=NUMBER_PLACES
    )


def _reason_field(label: Any, help_text: Any, min_length: int = MIN_CORRECTION_REASON) -> forms.CharField:
    return forms.CharField(
        label=label,
        min_length=min_length,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=help_text,
    )


def parse_value(text: str) -> tuple[Decimal | None, str]:
    """A typed result: a number within what we store, or else text ("Negative", "> 90").

    Raises ValidationError for a number too long or too precise to store.
    """
    text = text.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, text
    if not number.is_finite():
        return None, text
    DecimalValidator(NUMBER_DIGITS, NUMBER_PLACES)(number)
    return number, ""


class ValueFields(forms.Form):
    """What an observation says: its value, unit, range and flag."""

    value = forms.CharField(
        label=_("Value"), max_length=500, help_text=_("A number, or text such as “Negative”.")
    )
    unit = forms.CharField(label=_("Unit"), max_length=40, required=False)
    range_low = _number_field(_("Range low"))
    range_high = _number_field(_("Range high"))
    interpretation = forms.ChoiceField(label=_("Flag"), choices=FLAG_CHOICES, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("range_low"), cleaned.get("range_high")
        if low is not None and high is not None and low > high:
            self.add_error("range_high", _("The high end of the range is below the low end."))
        if "value" in cleaned:
            try:
                cleaned["value_number"], cleaned["value_text"] = parse_value(cleaned["value"])
            except forms.ValidationError as error:
                self.add_error("value", error)
        return cleaned


class ObservationForm(ValueFields):
    """One row of a result being entered."""

    code = forms.CharField(label=_("LOINC code"), max_length=40)
    name = forms.CharField(label=_("Test"), max_length=200)

    field_order = ["code", "name", "value", "unit", "range_low", "range_high", "interpretation"]

    def entry(self) -> ObservationEntry:
        data = self.cleaned_data
        return ObservationEntry(
            code=data["code"],
            name=data["name"],
            value_number=data["value_number"],
            value_text=data["value_text"],
            unit=data["unit"],
            range_low=data["range_low"],
            range_high=data["range_high"],
            interpretation=data["interpretation"],
        )


ObservationFormSet = forms.formset_factory(
    ObservationForm,
    extra=3,
    min_num=1,
    validate_min=True,
    max_num=MAX_VALUES,
    validate_max=True,
    absolute_max=MAX_VALUES,
)


def value_count_errors() -> dict[str, str]:
    """The formset's own messages, in words for clinicians (translated per request)."""
    return {
        "too_few_forms": gettext("Enter at least one value."),
        "too_many_forms": gettext("Enter at most %(num)d values in one report."),
    }


def observation_entries(formset: forms.BaseFormSet[ObservationForm]) -> list[ObservationEntry]:
    """The values typed into a valid formset; rows left empty are skipped."""
    return [form.entry() for form in formset.forms if form.has_changed() and form.cleaned_data]


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In the patient's campus time."),
    )


CATEGORY_NAMES = {
    "sexual-health": _("Sexual health"),
    "reproductive-health": _("Reproductive health"),
    "mental-health": _("Mental health"),
    "substance-use": _("Substance use"),
}


def sensitivity_field() -> forms.ChoiceField:
    """Whether an item is in a confidential category, hidden from the parent of a 12-17-year-old."""
    categories = sorted(settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES)
    return forms.ChoiceField(
        label=_("Confidential category"),
        choices=[("", _("None: not confidential"))]
        + [(slug, CATEGORY_NAMES.get(slug, slug.replace("-", " ").capitalize())) for slug in categories],
        required=False,
        help_text=_(
            "A parent or guardian of a patient aged 12 to 17 does not see items in these categories."
        ),
    )


class ResultReportForm(forms.Form):
    name = forms.CharField(label=_("Name of the test or panel"), max_length=200)
    code = forms.CharField(label=_("LOINC code of the panel"), max_length=40, required=False)
    category = forms.ChoiceField(label=_("Type"), choices=ResultReport.Category.choices)
    effective_at = _datetime_field(_("Collected"))
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            (ResultReport.Status.FINAL, ResultReport.Status.FINAL.label),
            (ResultReport.Status.PRELIMINARY, ResultReport.Status.PRELIMINARY.label),
        ],
    )
    ordered_by = forms.ModelChoiceField(
        label=_("Ordered by"),
        queryset=Practitioner.objects.none(),
        required=False,
        empty_label=_("Nobody named"),
    )
    conclusion = forms.CharField(
        label=_("Comment"), max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    sensitivity = sensitivity_field()

    def __init__(self, *args: Any, clinicians: QuerySet[Practitioner], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ordered_by"].queryset = clinicians  # type: ignore[attr-defined]

    def clean_effective_at(self) -> dt.datetime:
        when: dt.datetime = self.cleaned_data["effective_at"]
        if when > timezone.now() + FUTURE_SLACK:
            raise forms.ValidationError(_("The collection time is in the future."))
        if when < EARLIEST:
            raise forms.ValidationError(_("Check the year of the collection time."))
        return when


class ObservationCorrectionForm(ValueFields):
    reason = _reason_field(_("Reason for the correction"), _("Shown to the patient with the earlier value."))

    def change(self) -> ObservationChange:
        data = self.cleaned_data
        return ObservationChange(
            value_number=data["value_number"],
            value_text=data["value_text"],
            unit=data["unit"],
            range_low=data["range_low"],
            range_high=data["range_high"],
            interpretation=data["interpretation"],
        )


class NoteForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=ClinicalNote.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Note"), max_length=50_000, widget=forms.Textarea(attrs={"rows": 12}))
    sensitivity = sensitivity_field()


class NoteCorrectionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Note"), max_length=50_000, widget=forms.Textarea(attrs={"rows": 12}))
    reason = _reason_field(_("Reason for the correction"), _("Shown to the patient with the earlier text."))


class EnteredInErrorForm(forms.Form):
    reason = _reason_field(
        _("Why was this note entered in error?"), _("For example: written in the wrong patient's record.")
    )


class HoldRuleForm(forms.Form):
    category = forms.ChoiceField(label=_("Type of result"), choices=ResultReport.Category.choices)
    hold_hours = forms.IntegerField(label=_("Hold for (hours)"), min_value=1)
    reason = _reason_field(
        _("Reason for the hold"),
        _("Why patients should wait for a clinician in this category. Recorded in the audit trail."),
        min_length=MIN_HOLD_REASON,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        most = settings.PORTAL_RESULT_HOLD_MAX_HOURS
        hours = self.fields["hold_hours"]
        hours.validators.append(MaxValueValidator(most))
        hours.help_text = _("Between 1 and %(max)d hours.") % {"max": most}
        hours.widget.attrs.update({"min": "1", "max": str(most)})


class AcceptForm(forms.Form):
    response = forms.CharField(
        label=_("What was changed"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The patient reads this. Correct the item first if it needs a new value or text."),
    )


class DenyForm(forms.Form):
    response = forms.CharField(
        label=_("Reason for not changing the record"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The patient reads this, with a note that they may send a statement of disagreement."),
    )
