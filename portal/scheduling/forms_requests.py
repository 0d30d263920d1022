"""The appointment request form: where, which specialty, when the patient can come, and why."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.forms.boundfield import BoundWidget
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Department, Practitioner
from portal.scheduling.models import AppointmentRequest, Mode

EITHER = "either"
MODE_CHOICES = [
    (Mode.IN_PERSON, _("In person")),
    (Mode.VIDEO, _("Video visit")),
    (EITHER, _("Either is fine")),
]
CHOOSE = {
    "invalid_choice": _("Choose one of the options shown."),
    "required": _("Choose one of the options."),
}


def a_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a real date, such as 2027-03-31.")},
    )


def _id_field(label: Any, *, empty_label: Any = None, radio: bool = False) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        coerce=int,
        required=empty_label is None,
        empty_value=None,
        widget=forms.RadioSelect if radio else forms.Select,
        error_messages=CHOOSE,
    )


class RequestForm(forms.Form):
    """Everything the scheduling desk needs to find the patient a time."""

    campus = _id_field(_("Campus"), radio=True)
    department = _id_field(_("Specialty"), empty_label=_("I am not sure"))
    practitioner = _id_field(_("Preferred clinician"), empty_label=_("No preference"))
    mode = forms.ChoiceField(
        label=_("How would you like to be seen?"),
        choices=MODE_CHOICES,
        initial=EITHER,
        widget=forms.RadioSelect,
        error_messages=CHOOSE,
    )
    reason = forms.CharField(
        label=_("Reason for the visit"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What you would like to be seen for, in your own words. Up to 2,000 characters."),
        error_messages={"required": _("Tell the scheduling desk what the visit is for.")},
    )
    earliest_date = _date_field(_("Earliest date you can come"))
    latest_date = _date_field(_("Latest date that works for you"))
    time_of_day = forms.ChoiceField(
        label=_("Preferred time of day"),
        choices=AppointmentRequest.TimeOfDay.choices,
        initial=AppointmentRequest.TimeOfDay.ANY,
        widget=forms.RadioSelect,
        error_messages=CHOOSE,
    )
    availability_notes = forms.CharField(
        label=_("Anything else about when you can come"),
        required=False,
        max_length=500,
        help_text=_("For example: not on Mondays, or only after 3 PM. Up to 500 characters."),
    )
    referred_by = forms.CharField(
        label=_("Referred by"),
        required=False,
        max_length=200,
        help_text=_("The clinician or organization that referred you, if any."),
    )
    referral_details = forms.CharField(
        label=_("Referral details"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A referral number or what the referral says. Up to 2,000 characters."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campuses = list(Campus.objects.filter(is_active=True).prefetch_related("departments"))
        self.departments = list(Department.objects.filter(campuses__is_active=True).distinct())
        self.clinicians = list(
            Practitioner.objects.filter(
                active=True, role__in=Practitioner.CLINICAL_ROLES, campuses__is_active=True
            )
            .distinct()
            .prefetch_related("campuses", "departments")
        )
        self._choice("campus").choices = [(str(campus.pk), campus.name) for campus in self.campuses]
        self._choice("department").choices = [
            ("", _("I am not sure")),
            *((str(department.pk), department.name) for department in self.departments),
        ]
        self._choice("practitioner").choices = [
            ("", _("No preference")),
            *((str(person.pk), _clinician_label(person)) for person in self.clinicians),
        ]

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def campus_options(self) -> list[tuple[Campus, BoundWidget]]:
        return list(zip(self.campuses, self["campus"], strict=True))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        campus = _by_pk(self.campuses, data.get("campus"))
        department = _by_pk(self.departments, data.get("department"))
        clinician = _by_pk(self.clinicians, data.get("practitioner"))
        offered = [] if campus is None else [each.pk for each in campus.departments.all()]
        if campus is not None and department is not None and department.pk not in offered:
            self.add_error("department", _("This campus does not offer that specialty: choose another."))
        if campus is not None and clinician is not None:
            if all(place.pk != campus.pk for place in clinician.campuses.all()):
                self.add_error("practitioner", _("This clinician does not see patients at that campus."))
            elif department is not None and all(d.pk != department.pk for d in clinician.departments.all()):
                self.add_error("practitioner", _("This clinician does not work in that specialty."))
        self._check_dates(data)
        data.update(campus=campus, department=department, practitioner=clinician)
        data["mode"] = "" if data.get("mode") == EITHER else data.get("mode", "")
        return data

    def _check_dates(self, data: dict[str, Any]) -> None:
        today = timezone.localdate()
        last = a_year_after(today)
        for field in ("earliest_date", "latest_date"):
            day = data.get(field)
            if day is not None and day < today:
                self.add_error(field, _("Choose today or a later date."))
            elif day is not None and day > last:
                self.add_error(field, _("Choose a date within the next 12 months."))
        earliest, latest = data.get("earliest_date"), data.get("latest_date")
        if (
            earliest is not None
            and latest is not None
            and latest < earliest
            and not self.has_error("latest_date")
        ):
            self.add_error("latest_date", _("The latest date must be on or after the earliest date."))


def _clinician_label(person: Practitioner) -> str:
    departments = ", ".join(department.name for department in person.departments.all())
    return f"{person.display_name} ({departments})" if departments else person.display_name


def _by_pk(rows: list[Any], pk: Any) -> Any:
    return next((row for row in rows if pk is not None and row.pk == pk), None)
