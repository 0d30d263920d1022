"""Forms for app registration and staff review; every field is checked here, at the boundary."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.smart.models import AppRegistration

MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 500
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI is refused, or None when it is acceptable.

    OAuth for native apps (RFC 8252) allows plain http only to the loopback address;
    everything else must be https. Fragments are never allowed in a redirect URI.
    """
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        return _("is longer than %(max)d characters") % {"max": MAX_REDIRECT_URI_LENGTH}
    if any(char.isspace() or ord(char) < 32 for char in uri):
        return _("contains a space or control character")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return _("is not a valid address")
    if parts.scheme not in ("https", "http") or not host:
        return _("must be a full https:// address")
    if parts.fragment or "#" in uri:
        return _("must not contain a fragment (#…)")
    if parts.username is not None or parts.password is not None:
        return _("must not contain a user name or password")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return _("must use https (plain http is allowed only for 127.0.0.1, localhost or [::1])")
    return None


class RegistrationForm(forms.Form):
    """A developer's app: what it is, where it may send people back to, and what kind of client it is."""

    name = forms.CharField(label=gettext_lazy("App name"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("What the app does"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Patients see this before they connect the app."),
    )
    homepage = forms.URLField(label=gettext_lazy("Website"), max_length=300, assume_scheme="https")
    redirect_uris = forms.CharField(
        label=gettext_lazy("Redirect URIs"),
        error_messages={"required": gettext_lazy("Enter at least one redirect URI.")},
        max_length=(MAX_REDIRECT_URI_LENGTH + 2) * MAX_REDIRECT_URIS,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
        help_text=gettext_lazy(
            "One per line, at most 10, matched exactly. Each must use https, except http on "
            "127.0.0.1, localhost or [::1] for apps running on the user's own computer. No fragments (#)."
        ),
    )
    client_type = forms.ChoiceField(
        label=gettext_lazy("Client type"),
        choices=AppRegistration.ClientType.choices,
        widget=forms.RadioSelect,
    )

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if not name:
            raise ValidationError(_("Enter the app's name."))
        return name

    def clean_homepage(self) -> str:
        homepage = str(self.cleaned_data["homepage"])
        if urlsplit(homepage).scheme != "https":
            raise ValidationError(_("The website must be an https:// address."))
        return homepage

    def clean_redirect_uris(self) -> list[str]:
        lines = list(
            dict.fromkeys(line.strip() for line in str(self.cleaned_data["redirect_uris"]).splitlines())
        )
        uris = [line for line in lines if line]
        if not uris:
            raise ValidationError(_("Enter at least one redirect URI."))
        if len(uris) > MAX_REDIRECT_URIS:
            raise ValidationError(_("Enter at most %(max)d redirect URIs.") % {"max": MAX_REDIRECT_URIS})
        problems = []
        for uri in uris:
            problem = redirect_uri_problem(uri)
            if problem is not None:
                problems.append(
                    ValidationError(_("“%(uri)s” %(problem)s.") % {"uri": uri[:100], "problem": problem})
                )
        if problems:
            raise ValidationError(problems)
        return uris

    def action_fields(self) -> dict[str, Any]:
        return {
            key: self.cleaned_data[key] for key in ("name", "description", "homepage", "redirect_uris")
        } | {"client_type": self.cleaned_data["client_type"]}


class ReviewNoteForm(forms.Form):
    """Why staff turned down or suspended an app; the developer reads it."""

    note = forms.CharField(
        label=gettext_lazy("Reason, for the developer"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_note(self) -> str:
        note = str(self.cleaned_data["note"]).strip()
        if not note:
            raise ValidationError(_("Say why, in a few words."))
        return note
