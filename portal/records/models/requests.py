"""What patients and systems ask of the record: share links, correction requests, imports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Patient


class ShareLink(models.Model):
    """A link a patient gives someone (another doctor, a school) to chosen parts of the record.

    Only a digest of the token is stored; an optional passcode is hashed like a password.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    recipient = models.CharField(_("shared with"), max_length=200)
    sections = models.JSONField(_("sections"), default=list)
    date_from = models.DateField(_("from"), null=True, blank=True)
    date_to = models.DateField(_("to"), null=True, blank=True)
    passcode_hash = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="records_share_patient")]

    def __str__(self) -> str:
        return f"Share of {self.patient_id} with {self.recipient}"

    def usable(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.expires_at > at


class ShareLinkOpen(models.Model):
    """One visit to a share link, shown to the patient in the link's log."""

    class Outcome(models.TextChoices):
        OPENED = "opened", _("Opened")
        WRONG_PASSCODE = "wrong-passcode", _("Wrong passcode")
        REFUSED = "refused", _("Refused (expired or revoked)")

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="opens")
    opened_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.link_id} {self.outcome} {self.opened_at:%Y-%m-%d %H:%M}"


class AmendmentRequest(models.Model):
    """A patient's "this looks wrong" on one record item, which staff accept or deny with a reason."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Waiting for review")
        ACCEPTED = "accepted", _("Accepted: the record was corrected")
        DENIED = "denied", _("Not changed")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    item_type = models.CharField(max_length=40)  # model label, e.g. "records.medication"
    item_id = models.PositiveBigIntegerField()
    item_label = models.CharField(max_length=300)
    description = models.TextField(_("what looks wrong"))
    proposed_change = models.TextField(_("what it should say"), blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    response = models.TextField(_("reply"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="records_amend_patient"),
            models.Index(fields=["status", "created_at"], name="records_amend_queue"),
        ]

    def __str__(self) -> str:
        return f"Correction request on {self.item_label} ({self.status})"


class ImportBatch(models.Model):
    """One imported file, by content digest: importing the same file again changes nothing."""

    class Format(models.TextChoices):
        FHIR = "fhir", _("FHIR R4 bundle")
        HL7V2 = "hl7v2", _("HL7 v2 ORU^R01")
        DICOM = "dicom", _("DICOM image")

    digest = models.CharField(max_length=64, unique=True)
    format = models.CharField(max_length=10, choices=Format.choices)
    name = models.CharField(max_length=250, blank=True)
    submitted_by = models.CharField(max_length=200)
    counts = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.format} {self.name} {self.received_at:%Y-%m-%d %H:%M}"
