from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One thing that happened: a read of health data, a write, a sign-in, a refusal.

    Rows are never updated or deleted (the model refuses, and database triggers refuse
    too). Each row carries the hash of the one before it, so `portal audit verify`
    finds an edited, inserted or deleted row. Foreign keys are plain integers without
    constraints so that deleting a user or patient never rewrites history.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        DENIED = "denied", _("Denied")
        FAILURE = "failure", _("Failure")

    class ActorRole(models.TextChoices):
        PATIENT = "patient", _("Patient")
        PROXY = "proxy", _("Proxy")
        STAFF = "staff", _("Staff")
        BREAK_GLASS = "break_glass", _("Staff (emergency access)")
        APP = "app", _("App")
        SYSTEM = "system", _("System")
        ANONYMOUS = "anonymous", _("Anonymous")

    class Kind(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")
        AUTH = "auth", _("Sign-in")
        DENIED = "denied", _("Refused access")

    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200)
    actor_role = models.CharField(max_length=20, choices=ActorRole.choices)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    client_ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)
    flagged = models.BooleanField(default=False, help_text=_("Needs review by a privacy officer."))
    detail = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["patient", "kind", "-sequence"], name="audit_patient_kind_seq"),
            models.Index(fields=["actor", "-sequence"], name="audit_actor_seq"),
            models.Index(fields=["flagged", "-sequence"], name="audit_flagged_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only.")

    def hashed_content(self) -> dict[str, Any]:
        """The fields the hash covers, in a form that survives a database round trip."""
        return {
            "sequence": self.sequence,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "actor_role": self.actor_role,
            "patient_id": self.patient_id,
            "kind": self.kind,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "outcome": self.outcome,
            "client_ip": self.client_ip,
            "user_agent": self.user_agent,
            "flagged": self.flagged,
            "detail": self.detail,
            "previous_hash": self.previous_hash,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(
            self.hashed_content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditChainHead(models.Model):
    """The newest link of the audit chain: one row, locked by every writer.

    Taking this row's lock serialises appends across processes and machines, so each
    event links to exactly one predecessor; it also lets `verify` notice rows cut off
    the end of the chain.
    """

    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit head at #{self.last_sequence}"
