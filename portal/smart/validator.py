"""django-oauth-toolkit's validator and scopes backend, taught SMART App Launch.

What this adds to the toolkit's own checks:
- only approved apps (an approved `AppRegistration`, or made by staff) can be used at all;
- SMART scopes are open-ended (`patient/Observation.rs?category=...`), so the scopes
  backend accepts any scope `scopes.parse` understands rather than a fixed list;
- the authorization code is bound to the `PatientAuthorization` the consent screen made,
  and every access token made from it (or from its refresh tokens) to the same one, so
  revoking the authorization ends them all;
- the token response names the patient (`"patient": "patient-<pk>"`), a refresh token is
  issued only with `offline_access`, and the ID token carries `fhirUser`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from oauth2_provider.models import AbstractApplication, Grant, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauthlib.common import Request

from portal.fhir.mapping.outbound import resource_id
from portal.smart import scopes as smart_scopes
from portal.smart.access import sharing_access
from portal.smart.models import AppRegistration, GrantBinding, PatientAuthorization, TokenBinding

# Scopes apps commonly ask for that grant nothing here but need not fail the request.
HARMLESS_SCOPES = frozenset({"profile", "launch"})


def is_usable(application: AbstractApplication) -> bool:
    """An app may be used once staff approved its registration; an app with no
    registration exists only if staff made it (in the admin, or a staff user owns it)."""
    registration = AppRegistration.objects.filter(application=application).only("status").first()
    if registration is not None:
        return registration.status == AppRegistration.Status.APPROVED
    owner = application.user
    return owner is None or bool(owner.is_staff)


def understood(scope: str) -> bool:
    """A scope the server recognises (it may still grant nothing, like `patient/*.write`)."""
    if scope in HARMLESS_SCOPES:
        return True
    parsed = smart_scopes.parse(scope)
    return not parsed.unknown and (bool(parsed.context) or bool(parsed.resources) or "/" in scope)


def fhir_patient_id(authorization: PatientAuthorization) -> str:
    """The Patient resource id the FHIR API serves for the authorization's patient."""
    return resource_id(authorization.patient)


def fhir_base() -> str:
    return settings.SITE_ROOT.rstrip("/") + "/fhir/r4"


class _Described(dict[str, str]):
    """Every SMART scope has a description: its plain-words consent phrase."""

    def __missing__(self, key: str) -> str:
        from portal.smart.consent import describe_scope

        return str(describe_scope(key))


class SmartScopes(BaseScopes):
    """Dynamic SMART scopes: what the request asks for, as far as it is understood."""

    def get_all_scopes(self) -> dict[str, str]:
        return _Described()

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        requested = list(getattr(request, "scopes", None) or []) if request is not None else []
        return [scope for scope in requested if understood(scope)]

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return []


class SmartValidator(OAuth2Validator):
    # fhirUser goes into the ID token only when the app asked for the fhirUser scope.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "fhirUser": "fhirUser"}

    def _load_application(self, client_id: str, request: Request) -> AbstractApplication | None:
        if "\x00" in (client_id or ""):
            # PostgreSQL refuses NUL in a query (psycopg 3 raises DataError, which the
            # toolkit does not catch): no client has such an id.
            return None
        client = super()._load_application(client_id, request)
        if client is None or getattr(request, "smart_usable_client", None) == client.pk:
            return client
        if not is_usable(client):
            request.client = None
            return None
        request.smart_usable_client = client.pk  # checked once per request
        return client

    def _extract_basic_auth(self, request: Request) -> str | None:
        # The toolkit base64-decodes the credentials catching only binascii errors, so a
        # non-ASCII header (a proxy may pass Latin-1 through) was a 500 on /token/,
        # /revoke/ and /introspect/; such a header is simply not client credentials.
        auth: str | None = super()._extract_basic_auth(request)
        return auth if auth is not None and auth.isascii() else None

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        # Exact string match only: the toolkit would also let a loopback redirect change its
        # port (RFC 8252 §7.3); SMART apps register the exact URI they use.
        return redirect_uri in request.client.redirect_uris.split()

    # --- authorization codes -------------------------------------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Request, *args: Any, **kwargs: Any
    ) -> None:
        authorization_id = getattr(request, "smart_authorization_id", None)
        if authorization_id is None:
            # Codes are only made by the consent view, which always names the authorization.
            raise ValueError("An authorization code needs the patient authorization it is issued under.")
        grant = self._create_authorization_code(request, code)
        GrantBinding.objects.create(grant=grant, authorization_id=authorization_id)

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Request
    ) -> list[str]:
        # oauthlib asks this first, before any check; a NUL-bearing code (never one we
        # issued) must not reach PostgreSQL, which refuses NUL with a DataError (a 500).
        if "\x00" in (code or ""):
            return []
        scopes: list[str] = super().get_authorization_code_scopes(client_id, code, redirect_uri, request)
        return scopes

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        if "\x00" in (code or ""):
            return False  # never a code we issued (see get_authorization_code_scopes)
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        binding = (
            GrantBinding.objects.select_related("authorization__patient")
            .filter(grant__in=Grant.objects.filter(code=code, application=client))
            .first()
        )
        return binding is not None and self._bind_request(request, binding.authorization)

    # --- refresh tokens ------------------------------------------------------------------

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance: RefreshToken = request.refresh_token_instance
        binding = (
            TokenBinding.objects.select_related("authorization__patient")
            .filter(access_token_id=instance.access_token_id)
            .first()
        )
        return binding is not None and self._bind_request(request, binding.authorization)

    def _bind_request(self, request: Request, authorization: PatientAuthorization) -> bool:
        """Carry the authorization through the token request; False when it was revoked or the
        person may no longer share the record (a proxy grant ended)."""
        if sharing_access(authorization) is None:
            return False
        request.smart_authorization = authorization
        request.extra_credentials = {
            **(request.extra_credentials or {}),
            "patient": fhir_patient_id(authorization),
        }
        return True

    # --- tokens --------------------------------------------------------------------------

    def _save_bearer_token(self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any) -> None:
        # Without offline_access the app gets no refresh token (the token dict is what the
        # client receives, serialised after this runs).
        if "offline_access" not in (request.scopes or []):
            token.pop("refresh_token", None)
        super()._save_bearer_token(token, request, *args, **kwargs)

    def _create_access_token(
        self, expires: Any, request: Request, token: dict[str, Any], source_refresh_token: Any = None
    ) -> Any:
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        authorization = getattr(request, "smart_authorization", None)
        if authorization is None:
            raise ValueError("An access token must be bound to a patient authorization.")
        TokenBinding.objects.create(access_token=access_token, authorization=authorization)
        return access_token

    # --- OpenID Connect ------------------------------------------------------------------

    def get_additional_claims(self, request: Request) -> dict[str, Any]:
        authorization = getattr(request, "smart_authorization", None)
        if authorization is None:
            return {}
        # For a proxy too, fhirUser names the chosen patient's Patient resource (the portal
        # publishes no RelatedPerson for proxies); the `sub` claim still names the person.
        return {"fhirUser": f"{fhir_base()}/Patient/{fhir_patient_id(authorization)}"}
