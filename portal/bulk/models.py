"""Bulk data export for backend services (SMART Backend Services + FHIR Bulk Data `$export`).

A `BackendService` is a server-to-server client that staff registered: it proves who it
is with a JWT signed by a key from its registered JWK Set (no shared secret), gets a
short-lived `SystemToken`, and may export the patients of the `PatientGroup`s it was
allowed (or every patient, when staff allowed that). Each `$export` request becomes an
`ExportJob` that a worker writes as NDJSON `ExportFile`s, one resource type at a time.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, CareTeam


def new_client_id() -> str:
    return "svc-" + secrets.token_urlsafe(18)


class PatientGroup(models.Model):
    """A set of patients a backend service may export, defined by a rule rather than a list.

    Members: the patients whose home campus is `campus` (when set) and who are in the care
    of `care_team` (when set); both set means both must hold. Served as a FHIR Group.
    """

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(campus__isnull=False) | models.Q(care_team__isnull=False),
                name="bulk_group_has_a_rule",
            )
        ]

    def __str__(self) -> str:
        return self.name


class BackendService(models.Model):
    """A registered server-to-server client; staff register, suspend and reinstate it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("what it is for"), max_length=2000, blank=True)
    client_id = models.CharField(max_length=64, unique=True, default=new_client_id, editable=False)
    # The public keys (a JWK Set) the client signs its assertions with; never a private key.
    jwks = models.JSONField(_("public keys (JWK Set)"), default=dict)
    scopes = models.TextField(
        _("allowed scopes"), default="system/*.read", help_text=_("Space-separated system scopes.")
    )
    all_patients = models.BooleanField(_("may export every patient"), default=False)
    groups = models.ManyToManyField(PatientGroup, blank=True, related_name="services")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class UsedAssertion(models.Model):
    """A client assertion's `jti`, kept until it expires so the same JWT cannot be replayed."""

    service = models.ForeignKey(BackendService, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "jti"], name="bulk_jti_once")]
        indexes = [models.Index(fields=["expires_at"], name="bulk_assertion_expiry")]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.jti}"


class SystemToken(models.Model):
    """A backend service's access token; only its SHA-256 is stored."""

    service = models.ForeignKey(BackendService, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.TextField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token for {self.service_id}"


class ExportJob(models.Model):
    """One `$export` request: what was asked, by whom, and how far the worker got."""

    class Level(models.TextChoices):
        SYSTEM = "system", _("Every patient")
        PATIENT = "patient", _("Every patient the service may export")
        GROUP = "group", _("A group")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETE = "complete", _("Complete")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    service = models.ForeignKey(BackendService, on_delete=models.CASCADE, related_name="exports")
    level = models.CharField(max_length=10, choices=Level.choices)
    group = models.ForeignKey(PatientGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    types = models.TextField(blank=True, help_text="Space-separated resource types; empty means all.")
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["service", "status"], name="bulk_job_by_service")]

    def __str__(self) -> str:
        return f"export {self.pk} for {self.service_id}"


class ExportFile(models.Model):
    """One NDJSON file of an export: resources of one type, in the export storage."""

    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=300, help_text="The file's name in the export storage.")
    count = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["job", "resource_type", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["job", "resource_type", "sequence"], name="bulk_file_once")
        ]

    def __str__(self) -> str:
        return self.name
