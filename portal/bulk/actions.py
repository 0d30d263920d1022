"""Every staff write about backend services and patient groups, each audited without a patient.

Only the clinic's administrators (the people who approve apps) may take these; the views
check first and the actions check again, so nothing else can call them by accident.
Suspending a service also ends its live tokens, so reinstating it later does not revive
a token issued before the suspension.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.bulk.models import BackendService, PatientGroup, SystemToken
from portal.organization.models import Campus, CareTeam
from portal.smart.actions import may_review_apps


class BulkRefused(Exception):
    """A change the actor may not make; the message says why."""


def _require_administrator(actor: Actor) -> None:
    if actor.user is None or not may_review_apps(actor.user):
        raise BulkRefused(_("Only the clinic's administrators can manage backend services."))


def _kids(jwks: dict[str, Any]) -> list[str]:
    return [str(key.get("kid", ""))[:100] for key in jwks.get("keys", []) if isinstance(key, dict)]


def _audit(actor: Actor, action: str, obj: BackendService | PatientGroup, **detail: Any) -> None:
    record(actor, action, kind=Kind.WRITE, obj=obj, detail={"name": obj.name[:150]} | detail)


@transaction.atomic
def do_register_service(
    actor: Actor,
    *,
    name: str,
    description: str,
    jwks: dict[str, Any],
    scopes: str,
    all_patients: bool,
    groups: list[PatientGroup],
) -> BackendService:
    """Register a backend service with its public keys; it can ask for tokens at once."""
    _require_administrator(actor)
    service = BackendService.objects.create(
        name=name,
        description=description,
        jwks=jwks,
        scopes=scopes,
        all_patients=all_patients,
        created_by=actor.user,
    )
    service.groups.set(groups)
    _audit(
        actor,
        "bulk.service_registered",
        service,
        client_id=service.client_id,
        scopes=scopes,
        all_patients=all_patients,
        groups=[group.pk for group in groups],
        kids=_kids(jwks),
    )
    return service


@transaction.atomic
def do_update_service(
    actor: Actor,
    service: BackendService,
    *,
    name: str,
    description: str,
    scopes: str,
    all_patients: bool,
    groups: list[PatientGroup],
) -> None:
    """Change what a service is called and what it may export (from its next token on)."""
    _require_administrator(actor)
    locked = BackendService.objects.select_for_update().get(pk=service.pk)
    locked.name, locked.description, locked.scopes, locked.all_patients = (
        name,
        description,
        scopes,
        all_patients,
    )
    locked.save(update_fields=["name", "description", "scopes", "all_patients"])
    locked.groups.set(groups)
    _audit(
        actor,
        "bulk.service_changed",
        locked,
        scopes=scopes,
        all_patients=all_patients,
        groups=[group.pk for group in groups],
    )


@transaction.atomic
def do_replace_service_keys(actor: Actor, service: BackendService, jwks: dict[str, Any]) -> None:
    """Replace a service's public keys (rotation): assertions signed with a dropped key stop working."""
    _require_administrator(actor)
    locked = BackendService.objects.select_for_update().get(pk=service.pk)
    before = _kids(locked.jwks) if isinstance(locked.jwks, dict) else []
    locked.jwks = jwks
    locked.save(update_fields=["jwks"])
    _audit(actor, "bulk.service_keys_replaced", locked, kids_before=before, kids=_kids(jwks))


@transaction.atomic
def do_suspend_service(actor: Actor, service: BackendService) -> int:
    """Suspend a service and end its live tokens at once; how many tokens ended."""
    _require_administrator(actor)
    locked = BackendService.objects.select_for_update().get(pk=service.pk)
    if not locked.is_active:
        raise BulkRefused(_("%(service)s is already suspended.") % {"service": locked.name})
    locked.status = BackendService.Status.SUSPENDED
    locked.save(update_fields=["status"])
    now = timezone.now()
    ended = SystemToken.objects.filter(service=locked, expires_at__gt=now).update(expires_at=now)
    _audit(actor, "bulk.service_suspended", locked, client_id=locked.client_id, tokens=ended)
    return ended


@transaction.atomic
def do_reinstate_service(actor: Actor, service: BackendService) -> None:
    """Let a suspended service ask for tokens again."""
    _require_administrator(actor)
    locked = BackendService.objects.select_for_update().get(pk=service.pk)
    if locked.is_active:
        raise BulkRefused(_("%(service)s is not suspended.") % {"service": locked.name})
    locked.status = BackendService.Status.ACTIVE
    locked.save(update_fields=["status"])
    _audit(actor, "bulk.service_reinstated", locked, client_id=locked.client_id)


@transaction.atomic
def do_create_group(
    actor: Actor, *, name: str, description: str, campus: Campus | None, care_team: CareTeam | None
) -> PatientGroup:
    """A new patient group, defined by a campus and/or a care team."""
    _require_administrator(actor)
    group = PatientGroup.objects.create(
        name=name, description=description, campus=campus, care_team=care_team, created_by=actor.user
    )
    _audit(actor, "bulk.group_created", group, campus=group.campus_id, care_team=group.care_team_id)
    return group


@transaction.atomic
def do_update_group(
    actor: Actor,
    group: PatientGroup,
    *,
    name: str,
    description: str,
    campus: Campus | None,
    care_team: CareTeam | None,
) -> None:
    """Change a group's name or rule; services allowed the group export its new members."""
    _require_administrator(actor)
    locked = PatientGroup.objects.select_for_update().get(pk=group.pk)
    locked.name, locked.description, locked.campus, locked.care_team = name, description, campus, care_team
    locked.save(update_fields=["name", "description", "campus", "care_team"])
    _audit(actor, "bulk.group_changed", locked, campus=locked.campus_id, care_team=locked.care_team_id)
