"""The choices a patient makes before seeing open times: what to book, where, with whom.

One GET form serves every step of `booking:start` and the slots page: each field's
choices depend on the one before it, so a visit type, campus or clinician id the
patient may not choose (unknown, inactive, follow-up only, another department's) is a
form error, never a lookup that fails later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.db.models import Q, QuerySet
from django.forms.boundfield import BoundWidget
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Practitioner
from portal.patients.access import PatientAccess
from portal.patients.models import CareRelationship
from portal.scheduling.models import ScheduleTemplate, VisitType

ANY_CLINICIAN = ""
# The largest id a BigAutoField holds: anything larger names no row and must not reach the database.
MAX_ID = 2**63 - 1


def _id_choice(label: Any, *, required: bool = True, radio: bool = True) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        coerce=int,
        required=required,
        empty_value=None,
        widget=forms.RadioSelect if radio else forms.Select,
        error_messages={
            "required": _("Choose one of the options."),
            "invalid_choice": _("Choose one of the options shown."),
        },
    )


def cared_for_departments(access: PatientAccess) -> set[int]:
    """Departments whose care teams look after the patient today (for follow-up visits)."""
    today = timezone.localdate()
    relationships = (
        CareRelationship.objects.filter(patient=access.patient, starts_on__lte=today)
        .exclude(ends_on__lt=today)
        .exclude(care_team__department__isnull=True)
    )
    return set(relationships.values_list("care_team__department_id", flat=True))


def bookable_visit_types(access: PatientAccess) -> QuerySet[VisitType]:
    """Visit types this patient may book online, by department then name."""
    visit_types = VisitType.objects.filter(active=True, self_schedulable=True).filter(
        Q(established_only=False)
        | Q(department__isnull=True)
        | Q(department_id__in=cared_for_departments(access))
    )
    return visit_types.select_related("department").order_by("department__name", "name", "id")


def campuses_for(visit_type: VisitType) -> QuerySet[Campus]:
    if visit_type.department_id is None:
        return Campus.objects.filter(is_active=True)
    return Campus.objects.filter(is_active=True, departments=visit_type.department_id).distinct()


def clinicians_for(visit_type: VisitType, campus: Campus, on: dt.date) -> QuerySet[Practitioner]:
    """Clinicians holding a current session at the campus that takes this visit type."""
    sessions = ScheduleTemplate.objects.filter(campus=campus, visit_types=visit_type).exclude(
        valid_until__lt=on
    )
    if visit_type.department_id is not None:
        sessions = sessions.filter(department_id=visit_type.department_id)
    return Practitioner.objects.filter(active=True, pk__in=sessions.values("practitioner_id"))


@dataclass(frozen=True)
class VisitTypeGroup:
    """The radio buttons of one department's visit types, each with its visit type."""

    label: str
    options: list[tuple[VisitType, BoundWidget]]


class BookingChoiceForm(forms.Form):
    """Visit type, then campus, then (optionally) clinician; `after` pages the slots."""

    visit_type = _id_choice(_("What kind of visit do you need?"))
    campus = _id_choice(_("Where?"), required=False)
    clinician = forms.ChoiceField(
        label=_("Who would you like to see?"),
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose one of the options shown.")},
    )
    after = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)

    def __init__(self, data: Any, access: PatientAccess, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.visit_types = list(bookable_visit_types(access))
        self.campuses: list[Campus] = []
        self.clinicians: list[Practitioner] = []
        self._choice("visit_type").choices = [(str(vt.pk), vt.name) for vt in self.visit_types]
        visit_type = self._picked(self.visit_types, "visit_type")
        if visit_type is not None:
            self.campuses = list(campuses_for(visit_type))
            self._choice("campus").choices = [(str(campus.pk), campus.name) for campus in self.campuses]
        campus = self._picked(self.campuses, "campus")
        if visit_type is not None and campus is not None:
            self.clinicians = list(clinicians_for(visit_type, campus, campus.local_now().date()))
        self._choice("clinician").choices = [
            (ANY_CLINICIAN, _("Any clinician: the soonest time")),
            *((str(person.pk), person.display_name) for person in self.clinicians),
        ]

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def _picked(self, rows: Iterable[Any], field: str) -> Any:
        """The row the raw input names, so the next field's choices can follow it."""
        raw = str(self.data.get(field, "")) if self.is_bound else ""
        return next((row for row in rows if str(row.pk) == raw), None)

    @property
    def step(self) -> str:
        """Which question the start page asks next: "visit_type", "campus" or "clinician"."""
        if not self.is_bound or self.errors.get("visit_type") or self.data.get("visit_type") is None:
            return "visit_type"
        if self.errors.get("campus") or not self.data.get("campus"):
            return "campus"
        return "clinician"

    def visit_type_groups(self) -> list[VisitTypeGroup]:
        """The visit type radios grouped by department, for one fieldset each."""
        groups: dict[str, list[tuple[VisitType, BoundWidget]]] = {}
        for visit_type, option in zip(self.visit_types, self["visit_type"], strict=True):
            label = visit_type.department.name if visit_type.department else _("Any department")
            groups.setdefault(str(label), []).append((visit_type, option))
        return [VisitTypeGroup(label, options) for label, options in groups.items()]

    def campus_options(self) -> list[tuple[Campus, BoundWidget]]:
        return list(zip(self.campuses, self["campus"], strict=True))

    def chosen_visit_type(self) -> VisitType | None:
        return self._by_pk(self.visit_types, self._cleaned("visit_type"))

    def chosen_campus(self) -> Campus | None:
        return self._by_pk(self.campuses, self._cleaned("campus"))

    def chosen_clinician(self) -> Practitioner | None:
        return self._by_pk(self.clinicians, self._cleaned("clinician"))

    def _cleaned(self, field: str) -> Any:
        return getattr(self, "cleaned_data", {}).get(field)

    @staticmethod
    def _by_pk(rows: Iterable[Any], pk: Any) -> Any:
        return next((row for row in rows if pk not in (None, "") and str(row.pk) == str(pk)), None)


class ConfirmForm(forms.Form):
    """The visit type being booked (carried from the slots page) and an optional reason."""

    visit_type = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason for the visit"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A few words for the clinician, if you like. Up to 500 characters."),
    )
