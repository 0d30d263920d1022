from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.notifications.models import Kind
from portal.patients.models import CommunicationPreference, Patient

PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ().\-]+$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15
COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


def clean_phone(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        return ""
    digits = sum(character.isdigit() for character in value)
    if not PHONE_CHARACTERS.match(value) or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        raise ValidationError(
            _("Enter a phone number of 7 to 15 digits, such as 507-555-0142 or +44 20 7946 0000.")
        )
    return value


class ContactDetailsForm(forms.ModelForm):
    """Phone numbers and address. Email has its own form because it must be confirmed."""

    class Meta:
        model = Patient
        fields = ["mobile_phone", "home_phone", "address_line", "city", "region", "postal_code", "country"]
        labels = {
            "mobile_phone": _("Mobile phone"),
            "home_phone": _("Home phone"),
            "address_line": _("Street address"),
            "city": _("City or town"),
            "region": _("State or region"),
            "postal_code": _("ZIP or postal code"),
            "country": _("Country code"),
        }
        help_texts = {
            "mobile_phone": _("Text messages go to this number, if you agree to them."),
            "country": _("Two letters, such as US or GB."),
        }
        widgets = {
            "mobile_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "home_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "address_line": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "country": forms.TextInput(attrs={"autocomplete": "country", "maxlength": "2"}),
        }

    def clean_mobile_phone(self) -> str:
        return clean_phone(self.cleaned_data["mobile_phone"])

    def clean_home_phone(self) -> str:
        return clean_phone(self.cleaned_data["home_phone"])

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip()
        if not COUNTRY_CODE.match(country):
            raise ValidationError(_("Enter a two-letter country code, such as US."))
        return country.upper()

    def changed_values(self) -> dict[str, str]:
        return {name: " ".join(str(self.cleaned_data[name]).split()) for name in self.Meta.fields}


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("New email address"),
        max_length=254,
        help_text=_("We send a link to this address. The change takes effect when you open it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, current: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.casefold() == self.current.casefold():
            raise ValidationError(_("That is already the email address we have."))
        return email


class LanguageForm(forms.Form):
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=settings.LANGUAGES,
        help_text=_("For letters, messages and this site."),
    )


class CommunicationForm(forms.Form):
    """Which news reaches the patient by email and by text message, and when not to send.

    The master switches are kept: email off (or texts off) silences that channel for
    every kind. Per kind, one box for email and one for text (`email_<kind>`,
    `sms_<kind>`); texts need recorded consent and a mobile number. The portal itself
    always shows everything.
    """

    email_updates = forms.BooleanField(label=_("Email me when there is something new"), required=False)
    sms_updates = forms.BooleanField(label=_("Send me text messages"), required=False)
    sms_consent = forms.BooleanField(required=False)
    quiet_start = forms.TimeField(
        label=_("Quiet from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("Quiet until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def __init__(
        self, *args: Any, patient: Patient, preference: CommunicationPreference, **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", initial_choices(preference))
        super().__init__(*args, **kwargs)
        self.patient, self.preference = patient, preference
        self.fields["sms_consent"].label = gettext(
            "I agree to receive text messages from the clinic at %(phone)s. Message and data rates may "
            "apply. I can stop them at any time here, or by replying STOP."
        ) % {"phone": patient.mobile_phone or gettext("my mobile number")}
        for kind in Kind.values:
            self.fields[f"email_{kind}"] = forms.BooleanField(label=_("Email"), required=False)
            self.fields[f"sms_{kind}"] = forms.BooleanField(label=_("Text message"), required=False)

    @property
    def kind_rows(self) -> list[tuple[str, str, forms.BoundField, forms.BoundField]]:
        """(kind, label, email box, text box) for each kind of news, in order."""
        return [
            (kind, str(label), self[f"email_{kind}"], self[f"sms_{kind}"]) for kind, label in Kind.choices
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("sms_updates"):
            if not self.patient.mobile_phone:
                self.add_error("sms_updates", _("Add a mobile phone number to your contact details first."))
            elif not self.preference.sms_allowed and not cleaned.get("sms_consent"):
                self.add_error("sms_consent", _("To get text messages, tick to agree to them."))
        start, end = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if "quiet_start" not in self.errors and "quiet_end" not in self.errors:
            if (start is None) != (end is None):
                missing = "quiet_end" if end is None else "quiet_start"
                self.add_error(missing, _("Give both times, or leave both empty for no quiet hours."))
            elif start is not None and start == end:
                self.add_error("quiet_end", _("Quiet hours must end at a different time than they start."))
        return cleaned

    def kinds(self, channel: str) -> list[str]:
        """The kinds ticked for `channel` ("email" or "sms")."""
        return [kind for kind in Kind.values if self.cleaned_data.get(f"{channel}_{kind}")]

    def quiet_hours(self) -> tuple[dt.time | None, dt.time | None]:
        return self.cleaned_data.get("quiet_start"), self.cleaned_data.get("quiet_end")


def initial_choices(preference: CommunicationPreference) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "email_updates": preference.email_updates,
        "sms_updates": preference.sms_allowed,
        "quiet_start": preference.quiet_start,
        "quiet_end": preference.quiet_end,
    }
    for kind in Kind.values:
        initial[f"email_{kind}"] = kind in preference.email_kinds
        initial[f"sms_{kind}"] = kind in preference.sms_kinds
    return initial


class DeactivateForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "I understand I will be signed out everywhere and cannot sign in until the clinic reopens my account."
        )
    )
