"""Who is calling the bulk API: a backend service's bearer token (see `backend_auth.py` for
how a service gets one). Tokens are stored hashed; a suspended service's tokens stop at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import timezone

from portal.bulk.models import BackendService, SystemToken
from portal.fhir.api.auth import ApiError


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SystemGrant:
    """What one bulk request may do: the service, with the system scopes its token carries."""

    service: BackendService
    scopes: frozenset[str]  # e.g. {"system/*.read"} or {"system/Observation.rs"}
    token: SystemToken


def authenticate_system(request: HttpRequest) -> SystemGrant:
    """The request's system grant, or ApiError(401) for a missing, bad, expired or suspended one."""
    header = request.headers.get("Authorization", "")
    kind, _space, value = header.partition(" ")
    value = value.strip()
    if kind.lower() != "bearer" or not value or len(value) > 500:
        raise ApiError(401, "A bearer access token is required.", "login")
    token = SystemToken.objects.select_related("service").filter(token_hash=token_hash(value)).first()
    if token is None or token.expires_at <= timezone.now() or not token.service.is_active:
        raise ApiError(401, "The access token is not valid.", "expired")
    return SystemGrant(token.service, frozenset(token.scopes.split()), token)
