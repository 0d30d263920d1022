"""Forms for clinicians' schedules: sessions, blocks and visit types.

Forms check what one input can say on its own (a real date, a time, a choice on offer);
the rules that need the database (overlaps, departments) are the actions' to enforce.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.bulk.forms import RowIdsField  # ids past the database's integer range are a form error
from portal.organization.models import Campus, Department, OpeningHours
from portal.scheduling.actions_schedules import MAX_BLOCK, PLAN_AHEAD, TemplateDraft, VisitTypeDraft
from portal.scheduling.models import ConsentForm, Mode, Questionnaire, ScheduleBlock, VisitType

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
MAX_TEXT = 4000


def _date_field(label: Any, required: bool = True, help_text: Any = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE, help_text=help_text)


def _in_planning_range(day: dt.date | None) -> bool:
    today = timezone.now().date()
    return day is None or today - MAX_BLOCK <= day <= today + PLAN_AHEAD


class TemplateForm(forms.Form):
    campus = forms.ModelChoiceField(label=_("Campus"), queryset=Campus.objects.none(), empty_label=None)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    one_day_only = forms.BooleanField(
        label=_("One day only (an extra session on the first day)"), required=False
    )
    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        choices=[("", "---------"), *OpeningHours.Weekday.choices],
        coerce=int,
        required=False,
        help_text=_("Not needed for a one-day session: it is the weekday of its date."),
    )
    starts = forms.TimeField(label=_("Starts (campus time)"), widget=TIME)
    ends = forms.TimeField(label=_("Ends (campus time)"), widget=TIME)
    slot_minutes = forms.IntegerField(
        label=_("Slot length (minutes)"),
        min_value=5,
        max_value=240,
        help_text=_("Minutes left over at the end of the session are not offered."),
    )
    visit_types = RowIdsField(
        label=_("Visit types offered"),
        queryset=VisitType.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each must fit in one slot and belong to the department or to none."),
    )
    valid_from = _date_field(_("First day"))
    valid_until = _date_field(_("Last day"), required=False, help_text=_("Leave empty for no end."))

    def __init__(self, *args: Any, campuses: QuerySet[Campus], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["campus"].queryset = campuses
        fields["department"].queryset = Department.objects.filter(campuses__in=campuses).distinct()
        fields["visit_types"].queryset = VisitType.objects.filter(active=True).select_related("department")
        fields["visit_types"].label_from_instance = _visit_type_label

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        first = data.get("valid_from")
        for name in ("valid_from", "valid_until"):
            if not _in_planning_range(data.get(name)):
                self.add_error(name, _("Enter a date within the next five years."))
        if data.get("one_day_only") and first is not None:
            data["valid_until"] = first
            data["weekday"] = first.weekday()
        elif data.get("weekday") in (None, ""):
            self.add_error("weekday", _("Choose the weekday of the session."))
        return data

    def draft(self) -> TemplateDraft:
        data = self.cleaned_data
        return TemplateDraft(
            campus=data["campus"],
            department=data["department"],
            weekday=data["weekday"],
            starts=data["starts"],
            ends=data["ends"],
            slot_minutes=data["slot_minutes"],
            visit_types=list(data["visit_types"]),
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
        )


def _visit_type_label(visit_type: VisitType) -> str:
    department = visit_type.department.name if visit_type.department else _("any department")
    return f"{visit_type.name} ({visit_type.duration_minutes} min, {department})"


class EndTemplateForm(forms.Form):
    last_day = _date_field(_("Last day of the session"))

    def clean_last_day(self) -> dt.date:
        day: dt.date = self.cleaned_data["last_day"]
        if not _in_planning_range(day):
            raise forms.ValidationError(_("Enter a date within the next five years."))
        return day


class BlockForm(forms.Form):
    kind = forms.ChoiceField(label=_("What is it"), choices=ScheduleBlock.Kind.choices)
    campus = forms.ModelChoiceField(
        label=_("Times are in the time zone of"), queryset=Campus.objects.none(), empty_label=None
    )
    starts_on = _date_field(_("Starts on"))
    starts_time = forms.TimeField(label=_("Starts at"), widget=TIME)
    ends_on = _date_field(_("Ends on"))
    ends_time = forms.TimeField(label=_("Ends at"), widget=TIME)
    reason = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, campuses: QuerySet[Campus], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["campus"].queryset = campuses

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        for name in ("starts_on", "ends_on"):
            if not _in_planning_range(data.get(name)):
                self.add_error(name, _("Enter a date within a year back and five years ahead."))
        campus = data.get("campus")
        parts = [data.get(name) for name in ("starts_on", "starts_time", "ends_on", "ends_time")]
        if self.errors or campus is None or any(part is None for part in parts):
            return data
        zone = campus.zone
        data["starts_at"] = dt.datetime.combine(data["starts_on"], data["starts_time"], tzinfo=zone)
        data["ends_at"] = dt.datetime.combine(data["ends_on"], data["ends_time"], tzinfo=zone)
        return data


class VisitTypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.SlugField(
        label=_("Short name"), max_length=50, help_text=_("Letters, digits and hyphens, unique.")
    )
    description = forms.CharField(
        label=_("Description for patients"), required=False, max_length=MAX_TEXT, widget=forms.Textarea
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.all(),
        required=False,
        empty_label=_("Any department"),
    )
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=5, max_value=480)
    mode = forms.ChoiceField(label=_("How it happens"), choices=Mode.choices)
    self_schedulable = forms.BooleanField(label=_("Patients may book it themselves"), required=False)
    established_only = forms.BooleanField(
        label=_("Only for patients already seen by the department"), required=False
    )
    preparation = forms.CharField(
        label=_("How to prepare"), required=False, max_length=MAX_TEXT, widget=forms.Textarea
    )
    questionnaires = RowIdsField(
        label=_("Questionnaires"),
        queryset=Questionnaire.objects.filter(status=Questionnaire.Status.ACTIVE),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    consent_forms = RowIdsField(
        label=_("Consent forms"),
        queryset=ConsentForm.objects.filter(active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    active = forms.BooleanField(label=_("Offered (active)"), required=False, initial=True)

    @classmethod
    def for_visit_type(cls, visit_type: VisitType | None, data: Any = None) -> VisitTypeForm:
        initial = model_to_dict(visit_type) if visit_type is not None else None
        return cls(data, initial=initial)

    def draft(self) -> VisitTypeDraft:
        data = self.cleaned_data
        return VisitTypeDraft(
            name=data["name"].strip(),
            slug=data["slug"],
            description=data["description"].strip(),
            department=data["department"],
            duration_minutes=data["duration_minutes"],
            mode=data["mode"],
            self_schedulable=data["self_schedulable"],
            established_only=data["established_only"],
            preparation=data["preparation"].strip(),
            questionnaires=list(data["questionnaires"]),
            consent_forms=list(data["consent_forms"]),
            active=data["active"],
        )
