"""Token introspection (RFC 7662) at /oauth/introspect/, for confidential apps.

django-oauth-toolkit's own IntrospectTokenView does not fit: it answers for any token to
any authenticated client (or to a bearer of an `introspection` scope), knows nothing of
the patient a token is bound to, and would call a token active after its patient
authorization was revoked or the proxy's grant ended. Here:

- the caller authenticates as a confidential client (HTTP Basic, or `client_id` and
  `client_secret` in the body); public clients have no secret and are refused (401);
- a client learns about its own tokens only: another client's token, an unknown one, an
  expired, revoked or disconnected one all answer exactly `{"active": false}`;
- an active answer carries what SMART asks for (`scope`, `client_id`, `exp`, the
  `patient` the token is bound to and, with `openid`, `iss`, `sub` and `fhirUser`) and
  nothing else about the person.

The token is matched by its SHA-256 checksum, as tokens are stored hashed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.models import AbstractApplication, AccessToken, refresh_token_expire_timedelta
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OauthlibRequest
from oauthlib.common import urlencode

from portal.smart import tokens
from portal.smart.access import sharing_access
from portal.smart.models import PatientAuthorization
from portal.smart.validator import fhir_base, fhir_patient_id

INACTIVE: dict[str, Any] = {"active": False}


def _answer(body: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # RFC 7662 §4 (and RFC 6749 §5.1 for token data): never cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def authenticated_client(request: HttpRequest) -> AbstractApplication | None:
    """The confidential, approved app whose credentials the request carries, or None."""
    core = get_oauthlib_core()
    try:
        # The path without its query: client credentials travel in the header or the body.
        oauth_request = OauthlibRequest(
            request.build_absolute_uri(request.path),
            "POST",
            urlencode(core.extract_body(request)),
            core.extract_headers(request),
        )
    except ValueError:
        return None
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    # The portal's validator also refuses an app whose registration is not approved.
    if not validator.authenticate_client(oauth_request):
        return None
    client: AbstractApplication | None = oauth_request.client
    if client is None or client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL:
        return None
    return client


def _timestamp(moment: dt.datetime) -> int:
    return int(calendar.timegm(moment.utctimetuple()))


def _active(
    authorization: PatientAuthorization, scope: str, expires: dt.datetime, issued: dt.datetime, kind: str
) -> dict[str, Any]:
    scopes = scope.split()
    body: dict[str, Any] = {
        "active": True,
        "scope": scope,
        "client_id": authorization.application.client_id,
        "exp": _timestamp(expires),
        "iat": _timestamp(issued),
        "patient": fhir_patient_id(authorization),
    }
    if kind == "access_token":
        body["token_type"] = "Bearer"  # noqa: S105 - the token type, not a secret
    if "openid" in scopes:
        # As the ID token says: the issuer, the person (`sub`) and, if asked, the record.
        body["iss"] = settings.PORTAL_OAUTH_ISSUER
        body["sub"] = str(authorization.user_id)
        if "fhirUser" in scopes:
            body["fhirUser"] = f"{fhir_base()}/Patient/{fhir_patient_id(authorization)}"
    return body


def _live(authorization: PatientAuthorization | None, client: AbstractApplication) -> bool:
    return (
        authorization is not None
        and authorization.application_id == client.pk
        and sharing_access(authorization) is not None
    )


def _access_token_state(token: AccessToken, client: AbstractApplication) -> dict[str, Any]:
    binding = tokens.binding_of(token)
    authorization = binding.authorization if binding is not None else None
    if token.application_id != client.pk or token.is_expired() or not _live(authorization, client):
        return INACTIVE
    assert authorization is not None  # noqa: S101 - _live checked it
    return _active(authorization, token.scope, token.expires, token.created, "access_token")


def _refresh_token_state(value: str, client: AbstractApplication) -> dict[str, Any]:
    refresh = tokens.live_refresh_token(value)
    if refresh is None or refresh.application_id != client.pk:
        return INACTIVE
    access = refresh.access_token
    binding = tokens.binding_of(access)
    authorization = binding.authorization if binding is not None else None
    if access is None or not _live(authorization, client):
        # An orphan refresh token (its access token revoked) cannot be used either.
        return INACTIVE
    assert authorization is not None  # noqa: S101 - _live checked it
    lifetime = refresh_token_expire_timedelta()
    if lifetime is None:
        return INACTIVE  # the portal always sets a lifetime; without one there is no exp to give
    expires = access.expires + lifetime
    if expires <= timezone.now():
        return INACTIVE
    return _active(authorization, access.scope, expires, refresh.created, "refresh_token")


def token_state(value: str, client: AbstractApplication) -> dict[str, Any]:
    """What `client` may learn about the token `value`: RFC 7662's answer body."""
    if not tokens.plausible(value):
        return INACTIVE
    access = tokens.bound_access_token(value)
    if access is not None:
        return _access_token_state(access, client)
    return _refresh_token_state(value, client)


@csrf_exempt  # client credentials, not cookies
@require_POST
def introspect(request: HttpRequest) -> JsonResponse:
    client = authenticated_client(request)
    if client is None:
        response = _answer(
            {
                "error": "invalid_client",
                "error_description": "Introspection needs a confidential client's credentials.",
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
        return response
    value = request.POST.get("token", "")
    if not value:
        return _answer(
            {"error": "invalid_request", "error_description": "The token parameter is missing."}, 400
        )
    # token_type_hint is optional and only a hint (RFC 7662 §2.1): both kinds are looked up.
    return _answer(token_state(value, client))
