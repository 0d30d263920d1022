"""SMART App Launch discovery: `/.well-known/smart-configuration`, and OpenID Connect's.

Served for the FHIR base (`/fhir/r4/.well-known/smart-configuration`, routed by the FHIR
API's URLs) and under `/oauth/`. Endpoint URLs are built from the request, so a client
reaching the portal under its own host name gets URLs it can use; the issuer is fixed
(settings `PORTAL_OAUTH_ISSUER`), as ID tokens carry it.

Backend services (`client_credentials` with a `private_key_jwt` assertion, system scopes)
share the token endpoint with apps; see `portal/bulk/backend_auth.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from portal.bulk.backend_auth import SIGNING_ALGS

CAPABILITIES = [
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "permission-offline",
    "permission-patient",
    "permission-v1",
    "permission-v2",
    "sso-openid-connect",
]
SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.rs",
    "patient/*.read",
    "system/*.rs",
    "system/*.read",
]
# Backend services authenticate with a signed JWT (SMART Backend Services; bulk/backend_auth.py).
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]


def _url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse(name))


def _cached(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def smart_configuration(request: HttpRequest) -> JsonResponse:
    return _cached(
        JsonResponse(
            {
                "issuer": settings.PORTAL_OAUTH_ISSUER,
                "jwks_uri": _url(request, "smart:jwks"),
                "authorization_endpoint": _url(request, "smart:authorize"),
                "token_endpoint": _url(request, "smart:token"),
                "revocation_endpoint": _url(request, "smart:revoke"),
                "introspection_endpoint": _url(request, "smart:introspect"),
                "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
                "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
                "grant_types_supported": GRANT_TYPES,
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": SCOPES_SUPPORTED,
                "capabilities": CAPABILITIES,
            }
        )
    )


@require_safe
def openid_configuration(request: HttpRequest) -> JsonResponse:
    return _cached(
        JsonResponse(
            {
                "issuer": settings.PORTAL_OAUTH_ISSUER,
                "authorization_endpoint": _url(request, "smart:authorize"),
                "token_endpoint": _url(request, "smart:token"),
                "revocation_endpoint": _url(request, "smart:revoke"),
                "jwks_uri": _url(request, "smart:jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": SCOPES_SUPPORTED,
                "claims_supported": ["sub", "fhirUser", "iss", "aud", "exp", "iat", "auth_time", "nonce"],
                "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": GRANT_TYPES,
                "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
                "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
            }
        )
    )
