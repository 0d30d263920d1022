"""Writing to the audit chain. Every audited event goes through `record`."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditChainHead, AuditEvent

Outcome = AuditEvent.Outcome
Kind = AuditEvent.Kind
ActorRole = AuditEvent.ActorRole
BULK_BATCH = 1000


def record(
    actor: Actor,
    action: str,
    *,
    kind: str,
    role: str | None = None,
    patient: Any = None,
    obj: models.Model | None = None,
    outcome: str = Outcome.SUCCESS,
    flagged: bool = False,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction if there is one.

    Inside an action's transaction the event commits or rolls back with the write it
    describes; a read's event commits on its own.
    """
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor_id=actor.user.pk if actor.user else None,
        actor_label=actor_label(actor),
        actor_role=role or _default_role(actor),
        patient_id=getattr(patient, "pk", patient),
        kind=kind,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        outcome=outcome,
        client_ip=actor.client_ip,
        user_agent=_storable(actor.user_agent),
        flagged=flagged,
        detail=_storable(detail or {}),
    )
    append_events([event])
    return event


def _storable(value: Any) -> Any:
    """The value with NUL characters replaced, recursively.

    Details often quote what a visitor typed (a lookup, a path); PostgreSQL refuses NUL
    in text and JSON, and a refused audit row must never turn bad input into an error.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    return value


def append_events(events: list[AuditEvent]) -> None:
    """Link events onto the end of the chain, in order, and insert them.

    Holding the head row's lock from reading the last hash to writing the new one is what
    keeps the chain single across processes. Bulk loaders (imports, the benchmark
    generator) call this directly with many events at once.
    """
    with transaction.atomic():
        head = _locked_head()
        for event in events:
            event.sequence = head.last_sequence + 1
            event.previous_hash = head.last_hash
            event.row_hash = event.compute_hash()
            head.last_sequence, head.last_hash = event.sequence, event.row_hash
        AuditEvent.objects.bulk_create(events, batch_size=BULK_BATCH)
        head.save(update_fields=["last_sequence", "last_hash"])


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # Created by a migration; only an emptied database (the test runner's flush)
        # lacks it, and then the chain starts again from its genesis. Lock it once made:
        # a writer that lost the race to create it reads it unlocked otherwise, and a third
        # writer could then append beside it (a fork in the chain).
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def actor_label(actor: Actor) -> str:
    """How the actor is named in the trail; kept even if the user is later deleted."""
    if actor.user is None:
        return "system" if actor.client_ip is None else "anonymous"
    if actor.user.is_workforce:
        return actor.user.practitioner.display_name
    return f"{actor.user.display_name} ({actor.user.username})"


def _default_role(actor: Actor) -> str:
    if actor.user is None:
        return ActorRole.SYSTEM if actor.client_ip is None else ActorRole.ANONYMOUS
    return ActorRole.STAFF if actor.user.is_workforce else ActorRole.PATIENT
