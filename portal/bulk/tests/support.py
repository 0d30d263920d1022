"""Bulk test helpers: a backend service and a system token, made without the JWT dance."""

from __future__ import annotations

import datetime as dt
import secrets

from django.utils import timezone

from portal.bulk.auth import token_hash
from portal.bulk.models import BackendService, PatientGroup, SystemToken


def make_service(
    name: str = "Population Health", *, all_patients: bool = False, groups: list[PatientGroup] | None = None
) -> BackendService:
    service = BackendService.objects.create(name=name, all_patients=all_patients, jwks={"keys": []})
    if groups:
        service.groups.set(groups)
    return service


def issue_system_token(service: BackendService, scope: str = "system/*.read") -> str:
    token = secrets.token_urlsafe(32)
    SystemToken.objects.create(
        service=service,
        token_hash=token_hash(token),
        scopes=scope,
        expires_at=timezone.now() + dt.timedelta(minutes=5),
    )
    return token
