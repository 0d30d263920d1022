"""SMART Backend Services: a registered service trades a signed JWT for a short-lived system token.

The token request (`grant_type=client_credentials`) carries a client assertion: a JWT
the service signed with a private key whose public half staff registered (its JWK Set).
The assertion names the service (`iss` == `sub` == client_id), this token endpoint
(`aud`), a lifetime of at most five minutes (`exp`) and a one-time id (`jti`). Keys come
only from the registration: a `jku` header is refused, never fetched (no network at run
time, and a key URL the client chooses would let anyone sign).

The answer is an opaque random token (only its SHA-256 is stored, see `auth.py`) carrying
the requested system scopes that the service is allowed. Errors follow RFC 6749 as JSON;
nothing the client sends can make this raise.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwk, jws

from portal.audit.actor import Actor, client_ip
from portal.audit.log import ActorRole, Kind, Outcome, record
from portal.bulk.auth import token_hash
from portal.bulk.models import BackendService, SystemToken, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RS384 and ES384 are the ones SMART requires servers to support; the 256-bit forms are
# accepted too, as many client libraries default to them.
SIGNING_ALGS = ("RS384", "ES384", "RS256", "ES256")
_KEY_FOR_ALG = {
    "RS384": ("RSA", None),
    "RS256": ("RSA", None),
    "ES384": ("EC", "P-384"),
    "ES256": ("EC", "P-256"),
}
# Members of a JWK that only a private (or symmetric) key has.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048

MAX_ASSERTION_LIFETIME = 300  # seconds: the spec's "no more than five minutes in the future"
CLOCK_SKEW = 60  # seconds of disagreement between the service's clock and ours that we forgive
MAX_ASSERTION_LENGTH = 16_000
MAX_SCOPE_LENGTH = 4_000
MAX_SCOPES = 100
MAX_JTI_LENGTH = 255  # UsedAssertion.jti
# Failed assertions allowed per service in a fixed window; past it the service is told to
# wait (and its failures stop filling the audit log).
FAILURES_ALLOWED = 20
FAILURE_WINDOW = 600

_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_SYSTEM_SCOPE = re.compile(
    r"^system/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<perms>read|write|\*|[cruds]{1,5})$"
)
_TOKEN_PARAMS = ("grant_type", "client_assertion_type", "client_assertion", "scope", "client_id")


class TokenRefused(Exception):
    """An RFC 6749 error answer: `error` code, a description for the service's developer,
    the HTTP status, and the service when the request named a registered one."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        service: BackendService | None = None,
        failed_assertion: bool = False,
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.service, self.failed_assertion = service, failed_assertion


def _bad_client(description: str, service: BackendService | None = None) -> TokenRefused:
    return TokenRefused("invalid_client", description, status=401, service=service, failed_assertion=True)


# Scopes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemScope:
    """One `system/<Type>.<perms>` scope, reduced to read (`r`) and search (`s`): the API is read-only."""

    resource_type: str  # a FHIR resource type, or "*"
    perms: frozenset[str]
    v1: bool = False  # written `.read` (SMART v1), echoed back the same way

    def meet(self, other: SystemScope) -> SystemScope | None:
        """What both scopes allow, or None when that is nothing."""
        if "*" in (self.resource_type, other.resource_type):
            resource_type = other.resource_type if self.resource_type == "*" else self.resource_type
        elif self.resource_type == other.resource_type:
            resource_type = self.resource_type
        else:
            return None
        perms = self.perms & other.perms
        return SystemScope(resource_type, perms, self.v1) if perms else None

    def text(self) -> str:
        if self.v1 and self.perms == {"r", "s"}:
            return f"system/{self.resource_type}.read"
        return f"system/{self.resource_type}." + "".join(p for p in "rs" if p in self.perms)


def parse_system_scope(token: str) -> SystemScope | None:
    """A system scope, or None for anything else (patient/user scopes, granular queries, junk)."""
    match = _SYSTEM_SCOPE.match(token)
    if match is None:
        return None
    perms_text = match["perms"]
    if perms_text in ("read", "*"):
        perms = {"r", "s"}
    elif perms_text == "write":
        perms = set()
    elif len(set(perms_text)) != len(perms_text) or perms_text != "".join(
        c for c in "cruds" if c in perms_text
    ):
        return None  # v2 letters appear once each, in the order c r u d s
    else:
        perms = set(perms_text) & {"r", "s"}
    return SystemScope(match["type"], frozenset(perms), v1=perms_text == "read")


def grant_scopes(requested: str, allowed: str) -> list[str]:
    """The requested system scopes, each narrowed to what the allowed scopes cover."""
    allowed_scopes = [scope for scope in map(parse_system_scope, allowed.split()) if scope is not None]
    granted: list[str] = []
    for token in requested.split()[:MAX_SCOPES]:
        wanted = parse_system_scope(token)
        if wanted is None:
            continue
        for have in allowed_scopes:
            met = wanted.meet(have)
            if met is not None:
                granted.append(met.text())
    return list(dict.fromkeys(granted))


# The token request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Assertion:
    """A client assertion's decoded (not yet verified) parts."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


def token_endpoint_urls(request: HttpRequest) -> set[str]:
    """The `aud` values accepted: this endpoint as the request reached it, and as the issuer names it."""
    here = request.build_absolute_uri(reverse("smart:token"))
    configured = settings.PORTAL_OAUTH_ISSUER.rstrip("/") + "/token/"
    return {here.rstrip("/"), configured.rstrip("/")}


def _single_params(request: HttpRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    for name in _TOKEN_PARAMS:
        values = request.POST.getlist(name)
        if len(values) > 1:
            raise TokenRefused("invalid_request", f"The {name} parameter must be sent once.")
        if values:
            params[name] = values[0]
    return params


def _b64_json(segment: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise _bad_client("The client assertion is not a JWT.") from None
    if not isinstance(decoded, dict):
        raise _bad_client("The client assertion is not a JWT.")
    return decoded


def decode_assertion(raw: str) -> Assertion:
    """Split a compact JWS and decode its header and claims; no trust in either yet."""
    if len(raw) > MAX_ASSERTION_LENGTH or not _COMPACT_JWS.match(raw):
        raise _bad_client("The client assertion must be a signed JWT in compact form.")
    header_part, claims_part, _signature = raw.split(".")
    return Assertion(raw, _b64_json(header_part), _b64_json(claims_part))


def _client(assertion: Assertion, params: dict[str, str]) -> BackendService:
    """The registered service the assertion names as its issuer (iss == sub == client_id)."""
    issuer, subject = assertion.claims.get("iss"), assertion.claims.get("sub")
    # PostgreSQL refuses NUL in a query; no client_id holds anything unprintable anyway.
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 64 or not issuer.isprintable():
        raise _bad_client("The assertion's iss must be the client_id.")
    service = BackendService.objects.filter(client_id=issuer).first()
    if service is None:
        raise _bad_client("Unknown client.")
    if subject != issuer:
        raise _bad_client("The assertion's iss and sub must both be the client_id.", service)
    if "client_id" in params and params["client_id"] != issuer:
        raise _bad_client("The client_id parameter does not match the assertion.", service)
    return service


def _candidate_keys(service: BackendService, kid: str, alg: str) -> list[jwk.JWK]:
    """The registered public keys with this kid that can check this algorithm."""
    kty, curve = _KEY_FOR_ALG[alg]
    registered = service.jwks.get("keys") if isinstance(service.jwks, dict) else None
    keys = []
    for entry in registered if isinstance(registered, list) else []:
        if not isinstance(entry, dict) or entry.get("kid") != kid or entry.get("kty") != kty:
            continue
        if entry.get("alg", alg) != alg or entry.get("use", "sig") != "sig" or PRIVATE_MEMBERS & entry.keys():
            continue
        if curve is not None and entry.get("crv") != curve:
            continue
        try:
            keys.append(jwk.JWK(**entry))
        except Exception:  # noqa: S112  - a damaged stored key is skipped, not a 500  # nosec B112
            continue
    return keys


def _verify_signature(service: BackendService, assertion: Assertion) -> None:
    header = assertion.header
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in SIGNING_ALGS:
        raise _bad_client("The assertion's alg must be one of " + ", ".join(SIGNING_ALGS) + ".", service)
    if "jku" in header:
        # A key set URL the client picks is never fetched; its keys are the registered ones.
        raise _bad_client("This server does not fetch keys (jku); it uses the keys registered.", service)
    if "crit" in header or header.get("typ", "JWT") not in ("JWT", "jwt"):
        raise _bad_client("The assertion's header is not one this server accepts.", service)
    if not isinstance(kid, str) or not kid:
        raise _bad_client("The assertion's header must name its key (kid).", service)
    keys = _candidate_keys(service, kid, alg)
    if not keys:
        raise _bad_client("No registered key has this kid for this algorithm.", service)
    for key in keys:
        token = jws.JWS()
        token.allowed_algs = [alg]
        try:
            token.deserialize(assertion.raw)
            token.verify(key, alg=alg)
        except Exception:  # noqa: S112  - the crypto layer raises many kinds; any of them is a bad signature  # nosec B112
            continue
        return
    raise _bad_client("The assertion's signature does not verify.", service)


def _number(value: Any) -> float | None:
    """A NumericDate claim as a float; None for anything else (booleans, strings, absurd integers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer past float range is no date
        return None


def _check_claims(service: BackendService, assertion: Assertion, audiences: set[str]) -> tuple[str, float]:
    """The assertion's jti and exp once every claim checks out."""
    claims = assertion.claims
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(value, str) and value.rstrip("/") in audiences for value in named):
        raise _bad_client("The assertion's aud must be this token endpoint's URL.", service)
    now = timezone.now().timestamp()
    exp = _number(claims.get("exp"))
    if exp is None:
        raise _bad_client("The assertion must carry exp.", service)
    if not exp > now - CLOCK_SKEW:
        raise _bad_client("The assertion has expired.", service)
    if not exp <= now + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
        raise _bad_client("The assertion's exp must be at most five minutes from now.", service)
    for name in ("nbf", "iat"):
        if name in claims:
            moment = _number(claims[name])
            if moment is None or not moment <= now + CLOCK_SKEW:
                raise _bad_client(f"The assertion's {name} is not valid yet or not a number.", service)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH or "\x00" in jti:
        raise _bad_client("The assertion must carry a jti of at most 255 characters.", service)
    return jti, exp


def _check_rate(service: BackendService, source: str) -> None:
    if (cache.get(_failure_key(service, source)) or 0) >= FAILURES_ALLOWED:
        raise TokenRefused(
            "invalid_client", "Too many failed assertions; wait a few minutes.", status=429, service=service
        )


def _failure_key(service: BackendService, source: str) -> str:
    # Counted per service *and* address: a client_id is no secret, so failures from
    # elsewhere must not lock the real service out. created_at keeps a re-used primary
    # key (a test database) from inheriting the count.
    return f"bulk:assertion-failures:{service.pk}:{service.created_at.timestamp()}:{source}"


def _note_failure(service: BackendService, source: str) -> None:
    key = _failure_key(service, source)
    cache.add(key, 0, timeout=FAILURE_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: the first failure of a new window
        cache.set(key, 1, timeout=FAILURE_WINDOW)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def _issue(actor: Actor, service: BackendService, jti: str, exp: float, scopes: list[str]) -> IssuedToken:
    now = timezone.now()
    lifetime = settings.PORTAL_BULK_TOKEN_SECONDS
    value = secrets.token_urlsafe(32)
    scope = " ".join(scopes)
    with transaction.atomic():
        # Expired assertions can no longer be replayed anyway; forgetting them keeps the table small.
        UsedAssertion.objects.filter(expires_at__lt=now).delete()
        try:
            with transaction.atomic():
                UsedAssertion.objects.create(
                    service=service,
                    jti=jti,
                    expires_at=dt.datetime.fromtimestamp(exp + CLOCK_SKEW, tz=dt.UTC),
                )
        except IntegrityError:
            raise _bad_client("This assertion (its jti) was already used.", service) from None
        token = SystemToken.objects.create(
            service=service,
            token_hash=token_hash(value),
            scopes=scope,
            expires_at=now + dt.timedelta(seconds=lifetime),
        )
        record(
            actor,
            "bulk.token_issued",
            kind=Kind.AUTH,
            role=ActorRole.SYSTEM,
            obj=service,
            detail={
                "client_id": service.client_id,
                "service": service.name[:100],
                "scope": scope[:500],
                "token": token.pk,
            },
        )
    return IssuedToken(value, lifetime, scope)


def issue_system_token(request: HttpRequest) -> IssuedToken:
    """Check a client_credentials token request and issue a token, or raise TokenRefused."""
    params = _single_params(request)
    if params.get("client_assertion_type") != ASSERTION_TYPE:
        raise TokenRefused("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.")
    raw = params.get("client_assertion", "")
    if not raw:
        raise TokenRefused("invalid_request", "client_assertion is required.")
    scope = params.get("scope", "")
    if not scope.strip():
        raise TokenRefused("invalid_request", "scope is required (for example system/*.read).")
    if len(scope) > MAX_SCOPE_LENGTH:
        raise TokenRefused("invalid_scope", "The scope parameter is too long.")
    assertion = decode_assertion(raw)
    service = _client(assertion, params)
    _check_rate(service, client_ip(request) or "unknown")
    if not service.is_active:
        raise _bad_client("This client is suspended.", service)
    _verify_signature(service, assertion)
    jti, exp = _check_claims(service, assertion, token_endpoint_urls(request))
    granted = grant_scopes(scope, service.scopes)
    if not granted:
        raise TokenRefused(
            "invalid_scope", "None of the requested scopes is allowed for this client.", service=service
        )
    return _issue(Actor.from_request(request), service, jti, exp, granted)


def _answer(body: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _audit_refusal(request: HttpRequest, refusal: TokenRefused) -> None:
    service = refusal.service
    if service is None or refusal.status == 429:
        return  # an unknown client names nobody; a throttled one has been logged enough
    if refusal.failed_assertion:
        _note_failure(service, client_ip(request) or "unknown")
    record(
        Actor.from_request(request),
        "bulk.token_refused",
        kind=Kind.DENIED,
        role=ActorRole.SYSTEM,
        obj=service,
        outcome=Outcome.DENIED,
        detail={"client_id": service.client_id, "error": refusal.error, "reason": refusal.description[:200]},
    )


def token_response(request: HttpRequest) -> JsonResponse:
    """The token endpoint's answer to a client_credentials request (SMART Backend Services)."""
    try:
        issued = issue_system_token(request)
    except TokenRefused as refusal:
        _audit_refusal(request, refusal)
        response = _answer({"error": refusal.error, "error_description": refusal.description}, refusal.status)
        if refusal.status == 429:
            response["Retry-After"] = str(FAILURE_WINDOW)
        return response
    return _answer(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )
