"""Forms for recovery, password change and passkeys, on top of allauth's own."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import ChangePasswordForm, ResetPasswordForm
from allauth.core import context
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    LoginWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from allauth.usersessions.models import UserSession
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from portal.accounts.actions import do_end_sessions, do_keep_other_sessions
from portal.audit.actor import Actor
from portal.lib.challenge import ChallengeFormMixin

NAME_MAX_LENGTH = 100


class RecoveryForm(ChallengeFormMixin, forms.Form):
    """Base for the public "forgot" forms: the self-hosted security check and a honeypot.

    Render `{{ form.challenge_fields }}` inside the form. A bot caught by the honeypot
    gets the same "check your email" page as everyone else (`bot_suspected`).
    """


class PortalResetPasswordForm(RecoveryForm, ResetPasswordForm):
    """allauth's "forgot password" form (same page and email whether or not the address is known)."""


class ForgotUsernameForm(RecoveryForm):
    """Ask for the usernames registered to an email address."""

    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("The email address you gave the clinic or used when you created your account."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    field_order = ["email"]


class PortalChangePasswordForm(ChangePasswordForm):
    """allauth's change-password form, with the choice to sign out everywhere else.

    A new password ends every other session by default (Django ties sessions to the
    password hash); the user may keep them instead, which is then re-stamped and audited.
    """

    sign_out_other_sessions = forms.BooleanField(
        label=_("Sign out on every other device and browser"),
        required=False,
        initial=True,
    )

    def save(self) -> None:
        super().save()
        request = context.request
        user: Any = self.user
        current = request.session.session_key if request is not None else None
        actor = Actor.from_request(request) if request is not None else Actor.system()
        if self.cleaned_data.get("sign_out_other_sessions"):
            others = UserSession.objects.filter(user=user).exclude(session_key=current or "")
            do_end_sessions(actor, user, others, reason="password_change")
        else:
            do_keep_other_sessions(actor, user, current)


# What fido2 raises on a credential of the wrong shape (allauth catches only some).
MALFORMED_CREDENTIAL = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _refuse_malformed() -> ValidationError:
    return get_mfa_adapter().validation_error("incorrect_code")


class CheckedCredentialMixin(forms.Form):
    """A passkey answer of the wrong shape is a form error, never a server error."""

    def clean_credential(self) -> Any:
        try:
            return super().clean_credential()  # type: ignore[misc]
        except MALFORMED_CREDENTIAL as exc:
            raise _refuse_malformed() from exc


class PasskeyLoginForm(CheckedCredentialMixin, LoginWebAuthnForm):
    """Passwordless sign-in with a passkey."""


class PasskeyAuthenticateForm(CheckedCredentialMixin, AuthenticateWebAuthnForm):
    """A passkey as the second step of signing in."""


class PasskeyReauthenticateForm(CheckedCredentialMixin, ReauthenticateWebAuthnForm):
    """A passkey to confirm it is still you before a sensitive change."""


class AddPasskeyForm(AddWebAuthnForm):
    """Adding a passkey: by default it also signs in without a password."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except MALFORMED_CREDENTIAL as exc:
            raise _refuse_malformed() from exc

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Name for this passkey")
        self.fields["name"].help_text = _("So you can tell your passkeys apart, for example “Work laptop”.")
        self.fields["name"].validators.append(MaxLengthValidator(NAME_MAX_LENGTH))
        self.fields["name"].widget.attrs["maxlength"] = str(NAME_MAX_LENGTH)
        passwordless = self.fields.get("passwordless")
        if passwordless is not None:
            passwordless.initial = True
            passwordless.label = _("Also use this passkey to sign in without a password")
            passwordless.help_text = _(
                "Your device will ask for your fingerprint, face or screen lock each time you sign in."
            )
