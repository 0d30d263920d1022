"""Who is calling the FHIR API: a bearer token bound to one patient's authorization.

A token is good while django-oauth-toolkit says it is (not expired, not revoked), its
authorization is not revoked, and the person who gave it still has the view scope for
the patient under the one access policy (a proxy whose grant ended loses the app's
access with it). Anything else is a 401 with a FHIR OperationOutcome.

Tokens are stored hashed (django-oauth-toolkit's `token_checksum`), so the presented
value is hashed and matched by checksum. A request the token may not make (out of scope,
or an id outside the patient's record) is audited as the app's refused attempt, in the
patient's access log; a request without a valid token is not (junk must not fill the log).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from portal.audit.actor import Actor, client_ip
from portal.audit.log import Kind, Outcome, record
from portal.patients.access import PatientAccess
from portal.patients.models import Patient
from portal.smart import scopes as smart_scopes
from portal.smart import tokens
from portal.smart.access import sharing_access
from portal.smart.models import PatientAuthorization

# last_used_at is written at most this often per authorization.
USED_RESOLUTION_SECONDS = 60
# At most this many refused requests a minute are audited per authorization: an app stuck
# in a loop of bad reads leaves a trail without flooding the patient's access log.
REFUSALS_AUDITED_PER_MINUTE = 20


class ApiError(Exception):
    """A refusal the API answers with an OperationOutcome."""

    def __init__(self, status: int, message: str, code: str = "security") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@dataclass(frozen=True)
class ApiGrant:
    """What one request may read: one patient, the granted scopes, through whose access."""

    access: PatientAccess
    authorization: PatientAuthorization
    scopes: smart_scopes.Scopes
    # The person who authorized the app, from the client the request came from.
    actor: Actor | None = None

    @property
    def patient(self) -> Patient:
        return self.access.patient

    def allows(self, resource_type: str, interaction: str) -> bool:
        return self.scopes.allows(resource_type, interaction)

    def refused(self, status: int, resource: str, interaction: str, resource_id: str = "") -> None:
        """Audit a request this grant may not make (403 out of scope, 404 outside the record).

        Logged for the grant's patient as the authorizing person acting through the app, so
        the patient's access log shows the attempt. Call it just before raising the ApiError.
        """
        authorization = self.authorization
        if not _within_refusal_budget(authorization):
            return
        detail: dict[str, object] = {
            "app": authorization.application.name[:100],
            "resource": resource[:60],
            "interaction": interaction[:20],
            "status": status,
        }
        if resource_id:
            detail["id"] = resource_id[:80]
        record(
            self.actor or Actor(user=authorization.user),
            "fhir.refused",
            kind=Kind.DENIED,
            role=self.access.role.value,
            patient=self.patient,
            outcome=Outcome.DENIED,
            detail=detail,
        )


def _within_refusal_budget(authorization: PatientAuthorization) -> bool:
    minute = int(timezone.now().timestamp() // 60)
    # created_at keeps the key apart from a reused primary key (test databases roll back).
    key = f"smart:refused:{authorization.pk}:{authorization.created_at.timestamp()}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count <= REFUSALS_AUDITED_PER_MINUTE


def authenticate(request: HttpRequest) -> ApiGrant:
    """The request's grant, or ApiError(401) for a missing, bad, expired or revoked token."""
    header = request.headers.get("Authorization", "")
    kind, _space, value = header.partition(" ")
    value = value.strip()
    if kind.lower() != "bearer" or not tokens.plausible(value):
        raise ApiError(401, "A bearer access token is required.", "login")
    # Looked up by checksum: only the token's SHA-256 is stored.
    token = tokens.bound_access_token(value)
    binding = tokens.binding_of(token)
    if token is None or binding is None or token.is_expired():
        raise ApiError(401, "The access token is not valid.", "expired")
    authorization = binding.authorization
    access = sharing_access(authorization)
    if access is None:
        raise ApiError(401, "The access token is not valid.", "expired")
    _note_use(authorization)
    actor = Actor(
        user=authorization.user,
        client_ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )
    return ApiGrant(access, authorization, smart_scopes.parse(token.scope), actor)


def _note_use(authorization: PatientAuthorization) -> None:
    now = timezone.now()
    seen = authorization.last_used_at
    if seen is None or (now - seen).total_seconds() >= USED_RESOLUTION_SECONDS:
        PatientAuthorization.objects.filter(pk=authorization.pk).update(last_used_at=now)
