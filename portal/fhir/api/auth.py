"""Who is calling the FHIR API: a bearer token bound to one patient's authorization.

A token is good while django-oauth-toolkit says it is (not expired, not revoked), its
authorization is not revoked, and the person who gave it still has the view scope for
the patient under the one access policy (a proxy whose grant ended loses the app's
access with it). Anything else is a 401 with a FHIR OperationOutcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from portal.patients.access import PatientAccess
from portal.patients.models import Patient
from portal.smart import scopes as smart_scopes
from portal.smart.access import sharing_access
from portal.smart.models import PatientAuthorization, TokenBinding

# last_used_at is written at most this often per authorization.
USED_RESOLUTION_SECONDS = 60


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

    @property
    def patient(self) -> Patient:
        return self.access.patient

    def allows(self, resource_type: str, interaction: str) -> bool:
        return self.scopes.allows(resource_type, interaction)


def authenticate(request: HttpRequest) -> ApiGrant:
    """The request's grant, or ApiError(401) for a missing, bad, expired or revoked token."""
    header = request.headers.get("Authorization", "")
    kind, _space, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip() or len(value) > 500:
        raise ApiError(401, "A bearer access token is required.", "login")
    token = (
        AccessToken.objects.select_related("binding__authorization__patient", "binding__authorization__user")
        .filter(token=value.strip())
        .first()
    )
    binding: TokenBinding | None = getattr(token, "binding", None) if token is not None else None
    if token is None or binding is None or token.is_expired():
        raise ApiError(401, "The access token is not valid.", "expired")
    authorization = binding.authorization
    access = sharing_access(authorization)
    if access is None:
        raise ApiError(401, "The access token is not valid.", "expired")
    _note_use(authorization)
    return ApiGrant(access, authorization, smart_scopes.parse(token.scope))


def _note_use(authorization: PatientAuthorization) -> None:
    now = timezone.now()
    seen = authorization.last_used_at
    if seen is None or (now - seen).total_seconds() >= USED_RESOLUTION_SECONDS:
        PatientAuthorization.objects.filter(pk=authorization.pk).update(last_used_at=now)
