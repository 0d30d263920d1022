"""Forms for the staff pages that register backend services and patient groups.

The JWK Set staff paste is checked here: JSON, public keys only (a private key pasted by
mistake is refused, never stored), RSA of at least 2048 bits or EC on P-256/P-384, each
with a `kid` the service's assertions will name.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from jwcrypto import jwk

from portal.bulk.backend_auth import MIN_RSA_BITS, PRIVATE_MEMBERS, SIGNING_ALGS
from portal.bulk.models import PatientGroup
from portal.fhir.api.registry import resource_types
from portal.organization.models import Campus, CareTeam

MAX_JWKS_BYTES = 20_000
MAX_KEYS = 10
MAX_KID_LENGTH = 200
CURVES = ("P-256", "P-384")
ALL_TYPES = "*"
# Members a stored public key keeps; anything else in the pasted key is dropped.
KEPT_MEMBERS = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y")


def scope_choices() -> list[tuple[str, str]]:
    return [(ALL_TYPES, _("Every resource type"))] + [(name, name) for name in resource_types()]


def scopes_text(types: list[str]) -> str:
    """The allowed system scopes for the chosen resource types (read and search each)."""
    if ALL_TYPES in types:
        return "system/*.read"
    return " ".join(f"system/{name}.read" for name in types)


def scope_types(scopes: str) -> list[str]:
    """The resource types a stored scope string allows, for a form's initial value."""
    types = []
    for scope in scopes.split():
        name = scope.removeprefix("system/").split(".", 1)[0]
        if scope.startswith("system/") and name:
            types.append(name)
    return types


def _key_problem(key: Any) -> str | None:
    """Why one entry of the pasted set is refused, or None when it is a usable public key."""
    if not isinstance(key, dict):
        return _("is not a JSON object")
    private = sorted(PRIVATE_MEMBERS & key.keys())
    if private:
        return _("contains private key material (%(members)s): paste only the public keys") % {
            "members": ", ".join(private)
        }
    if key.get("kty") not in ("RSA", "EC"):
        return _("must have kty RSA or EC")
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip() or len(kid) > MAX_KID_LENGTH or not kid.isprintable():
        return _("needs a kid (key id) of at most %(max)d characters") % {"max": MAX_KID_LENGTH}
    if key.get("alg") is not None and key.get("alg") not in SIGNING_ALGS:
        return _("has alg %(alg)s; use one of %(algs)s") % {
            "alg": str(key["alg"])[:20],
            "algs": ", ".join(SIGNING_ALGS),
        }
    if key.get("use") not in (None, "sig"):
        return _("must be a signing key (use “sig”)")
    if key["kty"] == "EC" and key.get("crv") not in CURVES:
        return _("must be on curve P-256 or P-384")
    try:
        # Loading the verifying key checks the numbers (an EC point must lie on its curve).
        public = jwk.JWK(**{name: key[name] for name in KEPT_MEMBERS if name in key}).get_op_key("verify")
        if key["kty"] == "RSA" and public.key_size < MIN_RSA_BITS:
            return _("is an RSA key shorter than %(bits)d bits") % {"bits": MIN_RSA_BITS}
    except Exception:  # jwcrypto and cryptography raise many kinds for a damaged key
        return _("is not a valid public key")
    return None


def clean_jwks(text: str) -> dict[str, Any]:
    """The pasted JWK Set, checked and reduced to public members; ValidationError otherwise."""
    if len(text.encode()) > MAX_JWKS_BYTES:
        raise ValidationError(_("The key set is larger than 20 KB."))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError(_("The key set is not valid JSON.")) from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValidationError(_("Paste a JWK Set: a JSON object with a non-empty “keys” list."))
    if len(keys) > MAX_KEYS:
        raise ValidationError(_("A key set may hold at most %(max)d keys.") % {"max": MAX_KEYS})
    problems = []
    for number, key in enumerate(keys, start=1):
        problem = _key_problem(key)
        if problem is not None:
            problems.append(
                ValidationError(_("Key %(number)d %(problem)s.") % {"number": number, "problem": problem})
            )
    if problems:
        raise ValidationError(problems)
    kids = [key["kid"] for key in keys]
    if len(set(kids)) != len(kids):
        raise ValidationError(_("Two keys share a kid; each key needs its own."))
    return {"keys": [{name: key[name] for name in KEPT_MEMBERS if name in key} for key in keys]}


class JwksField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=gettext_lazy("Public keys (JWK Set)"),
            # The size is checked in bytes by `clean_jwks`, with a message that says so.
            widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocapitalize": "off"}),
            help_text=gettext_lazy(
                'Paste the service\'s public JWK Set as JSON: {"keys": [...]}. RSA (2048 bits or more) '
                "or EC (P-256, P-384) keys, each with a kid; at most 10. Never a private key."
            ),
            **kwargs,
        )


class RowIdsField(forms.ModelMultipleChoiceField):
    """Rows chosen by id; an id past the database's integer range is a form error, not a 500.

    SQLite raises OverflowError (PostgreSQL an out-of-range error) for such an id in `pk__in`.
    """

    def clean(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else [value] if value else []:
            text = str(pk).strip()
            if not (text.isascii() and text.isdigit() and int(text) < 2**63):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": text[:40]}
                )
        return super().clean(value)


class ServiceForm(forms.Form):
    """What a backend service is and what it may export."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=150)
    description = forms.CharField(
        label=gettext_lazy("What it is for"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    resource_types = forms.MultipleChoiceField(
        label=gettext_lazy("Resource types it may read"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one resource type.")},
    )
    all_patients = forms.TypedChoiceField(
        label=gettext_lazy("Patients it may export"),
        choices=[
            ("no", gettext_lazy("Only the patients of the groups chosen below")),
            ("yes", gettext_lazy("Every patient")),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        initial="no",
    )
    groups = RowIdsField(
        label=gettext_lazy("Patient groups"),
        queryset=PatientGroup.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per form: the registry of resource types loads after this module.
        cast(forms.MultipleChoiceField, self.fields["resource_types"]).choices = scope_choices()

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if not name:
            raise ValidationError(_("Enter the service's name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("all_patients") is False and not cleaned.get("groups"):
            self.add_error("groups", _("Choose at least one group, or allow every patient."))
        return cleaned

    def action_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"].strip(),
            "scopes": scopes_text(data["resource_types"]),
            "all_patients": data["all_patients"],
            "groups": list(data["groups"]) if not data["all_patients"] else [],
        }


class RegisterServiceForm(ServiceForm):
    """A new service: what `ServiceForm` asks, and its public keys."""

    jwks = JwksField()

    def clean_jwks(self) -> dict[str, Any]:
        return clean_jwks(str(self.cleaned_data["jwks"]))


class KeysForm(forms.Form):
    """A replacement key set (key rotation): the new set is the whole set."""

    jwks = JwksField()

    def clean_jwks(self) -> dict[str, Any]:
        return clean_jwks(str(self.cleaned_data["jwks"]))


class GroupForm(forms.Form):
    """A patient group: its rule is a campus, a care team, or both."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=150)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    campus = forms.ModelChoiceField(
        label=gettext_lazy("Home campus"),
        queryset=Campus.objects.all(),
        required=False,
        help_text=gettext_lazy("Patients whose home campus this is."),
    )
    care_team = forms.ModelChoiceField(
        label=gettext_lazy("Care team"),
        queryset=CareTeam.objects.filter(kind=CareTeam.Kind.CLINICAL),
        required=False,
        help_text=gettext_lazy("Patients this team cares for today. With a campus too, both must hold."),
    )

    def clean_name(self) -> str:
        name = " ".join(str(self.cleaned_data["name"]).split())
        if not name:
            raise ValidationError(_("Enter the group's name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("campus") and not cleaned.get("care_team") and not self.has_error("campus"):
            raise ValidationError(_("Choose a campus, a care team, or both."))
        return cleaned

    def action_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"].strip(),
            "campus": data["campus"],
            "care_team": data["care_team"],
        }
