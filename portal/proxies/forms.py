from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.patients.access import PatientAccess, Role
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.proxies.actions import MIN_DECLINE_REASON, ChildDetails
from portal.proxies.models import ProxyInvitation, ProxyRequest
from portal.proxies.uploads import CheckedUpload, check_document

EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)
MAX_YEARS_AHEAD = 100


def _date_input(**attrs: str) -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", **attrs}, format="%Y-%m-%d")


def _relationship_choices(values: Sequence[str]) -> list[tuple[str, Any]]:
    labels: dict[str, Any] = dict(ProxyGrant.Relationship.choices)
    return [(value, labels[value]) for value in values]


def _document_field() -> forms.FileField:
    return forms.FileField(
        label=_("Proof document"),
        widget=forms.FileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )


def _document_hint(what: str) -> str:
    # Built per form, in the language of the request (the limit is configurable).
    return gettext("%(what)s A PDF, JPEG or PNG file of %(limit)s or less.") % {
        "what": what,
        "limit": filesizeformat(settings.PORTAL_PROXY_DOCUMENT_MAX_BYTES),
    }


def end_of_day(day: dt.date, patient: Patient) -> dt.datetime:
    """The end of `day` where the patient is seen: access "until 3 May" lasts all of 3 May."""
    zone = ZoneInfo(patient.primary_campus.time_zone)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


class ScopesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            choices=Scope.choices,
            label=_("What they may do"),
            error_messages={"required": _("Choose at least one thing they may do.")},
            **kwargs,  # type: ignore[arg-type]
        )


class AccessUntilField(forms.DateField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label=_("Access ends on"),
            required=False,
            widget=_date_input(),
            help_text=_("Leave empty to share until you remove their access."),
            **kwargs,  # type: ignore[arg-type]
        )

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        today = timezone.localdate()
        if value is not None and value <= today:
            raise ValidationError(_("Choose a date after today."))
        if value is not None and value.year > today.year + MAX_YEARS_AHEAD:
            raise ValidationError(
                _("Choose a date within the next %(years)d years.") % {"years": MAX_YEARS_AHEAD}
            )


class RequestAccessForm(forms.Form):
    """A parent or guardian asks to act for a child."""

    clinic_number = forms.CharField(
        label=_("Child's clinic number"),
        max_length=12,
        help_text=_("It is printed near the top of letters and visit summaries from the clinic."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )
    given_name = forms.CharField(label=_("Child's first name"), max_length=100)
    family_name = forms.CharField(label=_("Child's last name"), max_length=100)
    birth_date = forms.DateField(label=_("Child's date of birth"), widget=_date_input())
    relationship = forms.ChoiceField(
        label=_("You are the child's"), choices=_relationship_choices(ProxyRequest.RELATIONSHIPS)
    )
    document = _document_field()
    confirm = forms.BooleanField(
        label=_("I confirm that I have parental responsibility for this child or am their legal guardian.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].help_text = _document_hint(
            gettext(
                "A birth certificate, adoption papers or a court order that shows you care for the child."
            )
        )

    def clean_clinic_number(self) -> str:
        return "".join(self.cleaned_data["clinic_number"].split())

    def clean_birth_date(self) -> dt.date:
        born: dt.date = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if born < EARLIEST_BIRTH_DATE or born > today:
            raise ValidationError(_("Enter the child's real date of birth."))
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age >= settings.PORTAL_AGE_OF_MAJORITY:
            raise ValidationError(
                _("This is for children under %(age)d. An adult can invite you to their account themselves.")
                % {"age": settings.PORTAL_AGE_OF_MAJORITY}
            )
        return born

    def clean_document(self) -> CheckedUpload:
        upload: UploadedFile = self.cleaned_data["document"]
        return check_document(upload)

    def child(self) -> ChildDetails:
        data = self.cleaned_data
        return ChildDetails(
            data["clinic_number"],
            data["given_name"],
            data["family_name"],
            data["birth_date"],
            data["relationship"],
        )


class InviteForm(forms.Form):
    """Whoever manages an account invites another adult to act for its patient."""

    name = forms.CharField(label=_("Their name"), max_length=150)
    email = forms.EmailField(label=_("Their email address"))
    relationship = forms.ChoiceField(
        label=_("They are your"), choices=_relationship_choices(ProxyInvitation.RELATIONSHIPS)
    )
    scopes = ScopesField(initial=[Scope.VIEW])
    access_until = AccessUntilField()

    def __init__(self, *args: Any, access: PatientAccess, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].help_text = gettext(
            "We email them a link. It works once and expires in %(days)d days."
        ) % {"days": settings.PORTAL_PROXY_INVITATION_DAYS}
        relationship = cast(forms.ChoiceField, self.fields["relationship"])
        relationship.choices = _relationship_choices(ProxyInvitation.relationships_for(access.patient))
        if access.role is not Role.SELF:
            relationship.label = gettext("They are %(name)s's") % {"name": access.patient.given_name}
        # Nobody shares more than they may do themself.
        scopes = cast(forms.ChoiceField, self.fields["scopes"])
        scopes.choices = [(value, label) for value, label in Scope.choices if value in access.scopes]


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        min_length=MIN_DECLINE_REASON,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The requester is told this reason by email."),
    )


class LegalRepresentativeForm(forms.Form):
    """Staff record a legal representative with the document that appoints them."""

    username = forms.CharField(
        label=_("Representative's portal username"),
        max_length=150,
        help_text=_("They need their own portal account first."),
    )
    scopes = ScopesField(initial=Scope.values)
    access_until = AccessUntilField()
    document = _document_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].help_text = _document_hint(
            gettext("The court order, power of attorney or other document that appoints them.")
        )

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise ValidationError(_("No active portal account has that username."))
        return user

    def clean_document(self) -> CheckedUpload:
        upload: UploadedFile = self.cleaned_data["document"]
        return check_document(upload)
