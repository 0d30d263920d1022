from __future__ import annotations

import datetime as dt
from typing import Any

from allauth.account.adapter import get_adapter
from django import forms
from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.lib.challenge import ChallengeFormMixin
from portal.organization.models import Campus
from portal.registration.codes import looks_like_a_code
from portal.registration.models import AccessRequest

EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)
MESSAGE_MAX_LENGTH = 2000
# One message for every way "Create account" can fail to match, so that nobody learns
# which detail was wrong or whether a clinic number exists.
MISMATCH_MESSAGE = _(
    "We could not match those details to an activation code. Check them against your "
    "clinic documents and the letter or email with your code, then try again. If it still "
    "does not work, you can request a new code."
)
TOO_MANY_MESSAGE = _(
    "There have been too many attempts. For your security, wait a while and try again, or call your campus."
)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d")


def _check_birth_date(value: dt.date) -> dt.date:
    if value < EARLIEST_BIRTH_DATE or value > timezone.now().date():
        raise ValidationError(_("Enter your real date of birth."))
    return value


class CreateAccountForm(ChallengeFormMixin, forms.Form):
    """Step one of "Create account": who you are and the code from your letter."""

    bot_message = MISMATCH_MESSAGE

    clinic_number = forms.CharField(
        label=_("Clinic number"),
        max_length=20,
        help_text=_(
            "You can find it near the top of letters, statements and visit summaries from the clinic."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
    )
    given_name = forms.CharField(
        label=_("Legal first name"),
        max_length=100,
        help_text=_("As it appears on your clinic documents."),
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    family_name = forms.CharField(
        label=_("Legal last name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    birth_date = forms.DateField(label=_("Date of birth"), widget=_date_input())
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("We send a link to this address to confirm it before your account works."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    activation_code = forms.CharField(
        label=_("Activation code"),
        max_length=30,
        help_text=_(
            "The 12 letters and numbers in the letter or email from the clinic, like ABCD-2345-WXYZ."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )

    def clean_birth_date(self) -> dt.date:
        return _check_birth_date(self.cleaned_data["birth_date"])

    def clean_activation_code(self) -> str:
        code = self.cleaned_data["activation_code"]
        # A typing slip is not an identity mismatch; saying so reveals nothing.
        if not looks_like_a_code(code):
            raise ValidationError(_("An activation code has 12 letters and numbers."))
        return code


class ChooseSignInForm(forms.Form):
    """Step two of "Create account": the username and password to sign in with."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, numbers and @ . + - _ only. You will use it to sign in."),
        validators=[UnicodeUsernameValidator()],
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        help_text=_(
            "At least 12 characters. A long phrase of unrelated words is easy to remember and hard to guess."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(
        self, *args: Any, given_name: str = "", family_name: str = "", email: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._person = {"first_name": given_name, "last_name": family_name, "email": email}

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        return get_adapter().clean_username(username)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password, again = cleaned.get("password1"), cleaned.get("password2")
        if password and again and password != again:
            self.add_error("password2", _("The two passwords are not the same."))
        elif password:
            # The same validators as everywhere else (length 12, common passwords, not
            # like your name or username).
            candidate = User(username=cleaned.get("username") or "", **self._person)
            try:
                get_adapter().clean_password(password, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def _us_campuses() -> forms.ModelChoiceField[Campus]:
    return forms.ModelChoiceField(
        label=_("Campus where you were seen"),
        queryset=Campus.objects.filter(is_active=True, country="US"),
        empty_label=_("Choose a campus"),
    )


class AccessRequestForm(ChallengeFormMixin, forms.ModelForm):
    """ "Request access" for US patients without an activation code."""

    kind = AccessRequest.Kind.US

    class Meta:
        model = AccessRequest
        fields = [
            "given_name", "family_name", "birth_date", "email", "phone", "address_line", "city",
            "region", "postal_code", "clinic_number", "campus", "message",
        ]  # fmt: skip
        labels = {
            "given_name": _("Legal first name"),
            "family_name": _("Legal last name"),
            "email": _("Email address"),
            "phone": _("Phone number"),
            "address_line": _("Street address"),
            "region": _("State"),
            "postal_code": _("ZIP code"),
            "clinic_number": _("Clinic number, if you know it"),
            "message": _("Anything else we should know"),
        }
        help_texts = {
            "given_name": _("As it appears on your clinic documents."),
            "clinic_number": _(
                "It is near the top of letters, statements and visit summaries from the clinic."
            ),
            "message": _(
                "For example, a former name or the name of your doctor. Do not include medical questions."
            ),
        }
        widgets = {
            "given_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "family_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "birth_date": _date_input(),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "address_line": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "clinic_number": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "message": forms.Textarea(attrs={"rows": 4, "maxlength": MESSAGE_MAX_LENGTH}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set before validation: the model's constraint on campus depends on the kind.
        self.instance.kind = self.kind
        self.fields["campus"] = _us_campuses()
        self.fields["region"].required = True
        self.fields["postal_code"].required = True
        self.fields["message"].validators.append(MaxLengthValidator(MESSAGE_MAX_LENGTH))

    def clean_birth_date(self) -> dt.date:
        born = _check_birth_date(self.cleaned_data["birth_date"])
        minimum = settings.PORTAL_MIN_REGISTRATION_AGE
        today = timezone.now().date()
        if (today.year - born.year) - ((today.month, today.day) < (born.month, born.day)) < minimum:
            raise ValidationError(
                _(
                    "You need to be %(age)d or older to have your own account. Ask a parent or "
                    "guardian to request proxy access to your record."
                )
                % {"age": minimum}
            )
        return born


class InternationalRequestForm(AccessRequestForm):
    """ "International patients": the same request, routed to the International office."""

    kind = AccessRequest.Kind.INTERNATIONAL

    class Meta(AccessRequestForm.Meta):
        fields = [
            "given_name", "family_name", "birth_date", "email", "phone", "address_line", "city",
            "region", "postal_code", "country", "clinic_number", "campus", "message",
        ]  # fmt: skip
        labels = {
            **AccessRequestForm.Meta.labels,
            "region": _("State, province or region"),
            "postal_code": _("Postal code"),
            "country": _("Country"),
        }
        help_texts = {
            **AccessRequestForm.Meta.help_texts,
            "phone": _("Include the country code, for example +44 20 7946 0000."),
        }
        widgets = {
            **AccessRequestForm.Meta.widgets,
            "country": forms.TextInput(attrs={"autocomplete": "country-name"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campus"] = forms.ModelChoiceField(
            label=_("Campus you were seen at or plan to visit"),
            queryset=Campus.objects.filter(is_active=True),
            required=False,
            empty_label=_("Not sure yet"),
        )
        self.fields["region"].required = False
        self.fields["postal_code"].required = False
        self.fields["country"].required = True
        self.fields["country"].initial = ""


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the requester will read this)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Say what they can do next, for example call the scheduling desk with photo ID."),
    )
