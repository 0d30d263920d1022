"""Every write to patients, proxy grants and break-glass access."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import ActorRole, Kind, record
from portal.patients.models import BreakGlassAccess, Patient, ProxyGrant, Scope


class BreakGlassRefused(ValueError):
    """Break-glass was asked for without what it needs."""


MIN_BREAK_GLASS_REASON = 20


@transaction.atomic
def do_break_glass(actor: Actor, patient: Patient, reason: str) -> BreakGlassAccess:
    """Give a member of staff time-limited emergency access to a patient, flagged for review."""
    reason = reason.strip()
    if actor.user is None or not actor.user.is_workforce:
        raise BreakGlassRefused(_("Only members of staff can use emergency access."))
    if len(reason) < MIN_BREAK_GLASS_REASON:
        raise BreakGlassRefused(
            _("Give a reason of at least %(count)d characters.") % {"count": MIN_BREAK_GLASS_REASON}
        )
    now = timezone.now()
    access = BreakGlassAccess.objects.create(
        user=actor.user,
        patient=patient,
        reason=reason,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=settings.BREAK_GLASS_MINUTES),
    )
    record(
        actor,
        "access.break_glass",
        kind=Kind.WRITE,
        role=ActorRole.BREAK_GLASS,
        patient=patient,
        obj=access,
        flagged=True,
        detail={"reason": reason, "expires_at": access.expires_at.isoformat()},
    )
    return access


@transaction.atomic
def do_grant_proxy(
    actor: Actor,
    patient: Patient,
    grantee: User,
    relationship: str,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
) -> ProxyGrant:
    """Let `grantee` act for `patient` with `scopes` until `expires_at`."""
    scope_list = sorted(set(scopes) & set(Scope.values))
    grant = ProxyGrant.objects.create(
        grantee=grantee,
        patient=patient,
        relationship=relationship,
        scopes=scope_list,
        expires_at=expires_at,
        granted_by=actor.user,
    )
    record(
        actor,
        "proxy.grant",
        kind=Kind.WRITE,
        patient=patient,
        obj=grant,
        detail={"scopes": scope_list},
    )
    return grant


@transaction.atomic
def do_revoke_proxy(actor: Actor, grant: ProxyGrant) -> None:
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["revoked_at"])
    record(actor, "proxy.revoke", kind=Kind.WRITE, patient=grant.patient, obj=grant)
