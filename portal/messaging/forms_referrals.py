"""Referral forms: asking for a referral, searching referrals, and the care team's decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.lib.date_range import check_date_range
from portal.messaging.actions_referrals import offered_specialties
from portal.messaging.models import Referral
from portal.organization.models import Campus, CareTeam, Department

CHOOSE = {
    "invalid_choice": _("Choose one of the options shown."),
    "required": _("Choose one of the options."),
}


def _id_field(label: Any, *, empty_label: Any = None, help_text: Any = "") -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        coerce=int,
        required=empty_label is None,
        empty_value=None,
        help_text=help_text,
        error_messages=CHOOSE,
    )


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a real date, such as 2027-03-31.")},
    )


def _by_pk(rows: list[Any], pk: Any) -> Any:
    return next((row for row in rows if pk is not None and row.pk == pk), None)


class ReferralForm(forms.Form):
    """What the care team needs to decide on a referral, and who to send it to."""

    specialty = _id_field(_("Specialty"))
    reason = forms.CharField(
        label=_("Reason for the referral"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Why you would like to see this specialty, in your own words. Up to 2,000 characters."),
        error_messages={"required": _("Tell your care team why you would like the referral.")},
    )
    preferred_campus = _id_field(
        _("Preferred campus"),
        empty_label=_("No preference"),
        help_text=_("Only a campus that offers the specialty can be chosen."),
    )
    care_team = _id_field(_("Care team"), help_text=_("The care team that decides on the referral."))

    def __init__(self, *args: Any, care_teams: list[CareTeam], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        active = Campus.objects.filter(is_active=True).order_by("name", "pk")
        self.specialties = list(
            offered_specialties().prefetch_related(
                Prefetch("campuses", queryset=active, to_attr="offered_at")
            )
        )
        self.campuses = list(active.filter(departments__isnull=False).distinct())
        self.care_teams = care_teams
        self._choice("specialty").choices = [
            ("", _("Choose a specialty")),
            *((str(specialty.pk), specialty.name) for specialty in self.specialties),
        ]
        self._choice("preferred_campus").choices = [
            ("", _("No preference")),
            *((str(campus.pk), campus.name) for campus in self.campuses),
        ]
        self._choice("care_team").choices = [(str(team.pk), team.name) for team in care_teams]
        if care_teams and not self.is_bound:
            self.initial.setdefault("care_team", str(care_teams[0].pk))

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        specialty = _by_pk(self.specialties, data.get("specialty"))
        campus = _by_pk(self.campuses, data.get("preferred_campus"))
        care_team = _by_pk(self.care_teams, data.get("care_team"))
        if specialty is not None and campus is not None:
            offered_at = specialty.offered_at
            if all(place.pk != campus.pk for place in offered_at):
                names = ", ".join(place.name for place in offered_at)
                self.add_error(
                    "preferred_campus",
                    _("%(campus)s does not offer %(specialty)s. Campuses that do: %(names)s.")
                    % {"campus": campus.name, "specialty": specialty.name, "names": names},
                )
        data.update(specialty=specialty, preferred_campus=campus, care_team=care_team)
        return data


class _DateRangeForm(forms.Form):
    """Shared by both searches: status, specialty and the day the referral was asked for."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *Referral.Status.choices],
        error_messages=CHOOSE,
    )
    specialty = _id_field(_("Specialty"), empty_label=_("Any specialty"))
    requested_from = _date_field(_("Requested from"))
    requested_to = _date_field(_("Requested to"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.specialties = list(Department.objects.order_by("name", "pk"))
        cast(forms.ChoiceField, self.fields["specialty"]).choices = [
            ("", _("Any specialty")),
            *((str(specialty.pk), specialty.name) for specialty in self.specialties),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_date_range(self, data, "requested_from", "requested_to")
        return data

    def apply(self, referrals: QuerySet[Referral]) -> QuerySet[Referral]:
        """The referrals matching what was asked; call only once the form is valid."""
        data = self.cleaned_data
        if data.get("status") in Referral.Status.values:
            referrals = referrals.filter(status=data["status"])
        if data.get("specialty") is not None:
            referrals = referrals.filter(specialty_id=data["specialty"])
        zone = timezone.get_current_timezone()
        if data.get("requested_from") is not None:
            start = dt.datetime.combine(data["requested_from"], dt.time.min, tzinfo=zone)
            referrals = referrals.filter(created_at__gte=start)
        if data.get("requested_to") is not None:
            end = dt.datetime.combine(data["requested_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
            referrals = referrals.filter(created_at__lt=end)
        return referrals


class ReferralSearchForm(_DateRangeForm):
    """The patient's search of their own referrals."""


OPEN = "open"


class StaffReferralSearchForm(_DateRangeForm):
    """The care team's search: also by patient, and "still needs us" as a status."""

    q = forms.CharField(
        label=_("Patient name or clinic number"),
        required=False,
        max_length=100,
        error_messages={"max_length": _("Use at most 100 characters.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", _("Any status")),
            (OPEN, _("Needs the care team")),
            *Referral.Status.choices,
        ]
        self.order_fields(["q", "status", "specialty", "requested_from", "requested_to"])

    def apply(self, referrals: QuerySet[Referral]) -> QuerySet[Referral]:
        referrals = super().apply(referrals)
        if self.cleaned_data.get("status") == OPEN:
            # Waiting for a decision, or approved and not yet sent to a desk.
            referrals = referrals.filter(
                Q(status=Referral.Status.REQUESTED)
                | Q(status=Referral.Status.APPROVED, appointment_request__isnull=True)
            )
        text = self.cleaned_data.get("q", "").strip()
        if text:
            referrals = referrals.filter(_patient_match(text))
        return referrals


def _patient_match(text: str) -> Q:
    if text.replace("-", "").isdigit():
        return Q(patient__clinic_number=text.replace("-", ""))
    match = Q()
    for word in text.split()[:4]:
        match &= (
            Q(patient__given_name__istartswith=word)
            | Q(patient__family_name__istartswith=word)
            | Q(patient__preferred_name__istartswith=word)
        )
    return match


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note for the patient"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": _("Use at most 2,000 characters.")},
    )


class DenyForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is not approved"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": _("Say why the referral is not approved: the patient reads it."),
            "max_length": _("Use at most 2,000 characters."),
        },
    )
