"""Forms of the scheduling desk: queue filters, slot searches, offers, bookings and the day list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.bulk.forms import RowIdsField  # ids past the database's integer range are a form error
from portal.organization.models import Campus, Department, Practitioner
from portal.scheduling.actions_desk import MAX_OFFERED_SLOTS
from portal.scheduling.models import AppointmentRequest, Slot, VisitType


def desk_visit_types(department: Department | None) -> QuerySet[VisitType]:
    """What the desk may book for a department: every active type, desk-only ones too."""
    types = VisitType.objects.filter(active=True).select_related("department")
    if department is not None:
        types = types.filter(Q(department=department) | Q(department__isnull=True))
    return types.order_by("name", "pk")


def campus_clinicians(
    campuses: QuerySet[Campus] | list[Campus], department: Department | None = None
) -> QuerySet[Practitioner]:
    clinicians = Practitioner.objects.filter(
        active=True, role__in=Practitioner.CLINICAL_ROLES, campuses__in=campuses
    )
    if department is not None:
        clinicians = clinicians.filter(departments=department)
    return clinicians.distinct().order_by("family_name", "given_name", "pk")


def upcoming_open_slots(campus: Campus | QuerySet[Campus]) -> QuerySet[Slot]:
    """Slots a desk form may name; the action checks each against the visit type as it books."""
    slots = Slot.objects.filter(status=Slot.Status.OPEN, starts_at__gt=timezone.now())
    if isinstance(campus, Campus):
        return slots.filter(campus=campus)
    return slots.filter(campus__in=campus)


class QueueFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", _("Every status")),
        ("open", _("Waiting for the desk or the patient")),
        *AppointmentRequest.Status.choices,
    ]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    department = forms.ModelChoiceField(
        label=_("Specialty"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("Every specialty"),
    )

    def __init__(self, *args: Any, campus: Campus, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = campus.departments.order_by("name")  # type: ignore[attr-defined]


class SlotSearchForm(forms.Form):
    visit_type = forms.ModelChoiceField(label=_("Kind of visit"), queryset=VisitType.objects.none())
    practitioner = forms.ModelChoiceField(
        label=_("Clinician"),
        queryset=Practitioner.objects.none(),
        required=False,
        empty_label=_("Any clinician"),
    )

    def __init__(
        self, *args: Any, visit_types: QuerySet[VisitType], clinicians: QuerySet[Practitioner], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit_type"].queryset = visit_types  # type: ignore[attr-defined]
        self.fields["practitioner"].queryset = clinicians  # type: ignore[attr-defined]


class OfferForm(forms.Form):
    visit_type = forms.ModelChoiceField(queryset=VisitType.objects.none(), widget=forms.HiddenInput)
    slots = RowIdsField(
        label=_("Times to offer"),
        queryset=Slot.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one time to offer.")},
    )
    reply = forms.CharField(
        label=_("Message to the patient"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self, *args: Any, visit_types: QuerySet[VisitType], slots: QuerySet[Slot], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit_type"].queryset = visit_types  # type: ignore[attr-defined]
        self.fields["slots"].queryset = slots  # type: ignore[attr-defined]

    def clean_slots(self) -> list[Slot]:
        chosen = list(self.cleaned_data["slots"])
        if len(chosen) > MAX_OFFERED_SLOTS:
            raise forms.ValidationError(
                _("Offer at most %(most)d times."), params={"most": MAX_OFFERED_SLOTS}, code="too_many"
            )
        return chosen


class BookSlotForm(forms.Form):
    """Book one slot straight away (a request, or on a patient's behalf)."""

    visit_type = forms.ModelChoiceField(label=_("Kind of visit"), queryset=VisitType.objects.none())
    slot = forms.ModelChoiceField(
        label=_("Time"), queryset=Slot.objects.none(), error_messages={"required": _("Choose a time.")}
    )
    reply = forms.CharField(label=_("Message to the patient"), max_length=2000, required=False)

    def __init__(
        self, *args: Any, visit_types: QuerySet[VisitType], slots: QuerySet[Slot], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit_type"].queryset = visit_types  # type: ignore[attr-defined]
        self.fields["slot"].queryset = slots  # type: ignore[attr-defined]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the request is declined"),
        max_length=2000,
        help_text=_("Required. The patient reads this: say what they can do instead."),
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say why the request is declined.")},
    )


class DayForm(forms.Form):
    date = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("date")
        # Years the database and the zone arithmetic cannot hold are not a day anyone works.
        if day is not None and not dt.date(1900, 1, 1) <= day <= dt.date(2999, 12, 31):
            raise forms.ValidationError(_("Enter a real day."), code="out_of_range")
        return day


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason for cancelling"), max_length=300, required=False)


class DeskBookForm(forms.Form):
    """Book on a patient's behalf: campus, kind of visit, clinician (optional), then a time."""

    campus = forms.ModelChoiceField(label=_("Campus"), queryset=Campus.objects.none(), empty_label=None)
    visit_type = forms.ModelChoiceField(label=_("Kind of visit"), queryset=VisitType.objects.none())
    practitioner = forms.ModelChoiceField(
        label=_("Clinician"),
        queryset=Practitioner.objects.none(),
        required=False,
        empty_label=_("Any clinician"),
    )

    def __init__(self, *args: Any, campuses: QuerySet[Campus], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campus"].queryset = campuses  # type: ignore[attr-defined]
        self.fields["visit_type"].queryset = desk_visit_types(None)  # type: ignore[attr-defined]
        self.fields["practitioner"].queryset = campus_clinicians(campuses)  # type: ignore[attr-defined]


class DeskBookSlotForm(forms.Form):
    slot = forms.ModelChoiceField(
        label=_("Time"), queryset=Slot.objects.none(), error_messages={"required": _("Choose a time.")}
    )
    reason = forms.CharField(label=_("Reason for the visit"), max_length=500, required=False)

    def __init__(self, *args: Any, slots: QuerySet[Slot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].queryset = slots  # type: ignore[attr-defined]
