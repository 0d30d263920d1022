"""Prescription refill and referral requests, and the pharmacies patients save."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.messaging.models.threads import Thread
from portal.organization.models import Campus, Department
from portal.patients.models import Patient


class Pharmacy(models.Model):
    """A pharmacy the patient has saved for refills."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pharmacies")
    name = models.CharField(_("pharmacy name"), max_length=150)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    preferred = models.BooleanField(_("use by default"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-preferred", "name", "id"]
        verbose_name_plural = _("pharmacies")

    def __str__(self) -> str:
        return self.name


class RefillRequest(models.Model):
    """A request to renew one or more active medications, sent to a pharmacy once approved.

    It has its own thread (topic: prescription) so staff work it from their inbox and a
    question and its answer are ordinary messages.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Refill requested")
        QUESTION = "question", _("Question from the care team")
        APPROVED = "approved", _("Refill approved")
        DENIED = "denied", _("Refill denied")

    OPEN_STATUSES = (Status.REQUESTED, Status.QUESTION)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="refill_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="refill_requests")
    notes = models.TextField(_("notes for the care team"), max_length=2000, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    decision_note = models.TextField(_("reason or note"), max_length=2000, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    thread = models.OneToOneField(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="refill_request"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="msg_refill_patient")]

    def __str__(self) -> str:
        return f"Refill request {self.pk} for {self.patient}"

    @property
    def campus(self) -> Campus | None:
        """Where its times are shown: the campus of its conversation, if it has one."""
        return self.thread.campus if self.thread is not None else None


class RefillItem(models.Model):
    """One medication in a refill request; its name is kept as it read when asked for."""

    request = models.ForeignKey(RefillRequest, on_delete=models.CASCADE, related_name="items")
    medication = models.ForeignKey(
        "records.Medication", on_delete=models.CASCADE, related_name="refill_items"
    )
    medication_name = models.CharField(max_length=300)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "medication"], name="msg_refill_item_once"),
        ]

    def __str__(self) -> str:
        return self.medication_name


class Referral(models.Model):
    """A patient's request to be referred to a specialty, and what became of it."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Scheduled")
        COMPLETED = "completed", _("Completed")
        DENIED = "denied", _("Denied")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="referrals")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    specialty = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="referrals")
    reason = models.TextField(_("reason"), max_length=2000)
    preferred_campus = models.ForeignKey(
        Campus, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    decision_note = models.TextField(_("note from the care team"), max_length=2000, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    thread = models.OneToOneField(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="referral"
    )
    appointment_request = models.OneToOneField(
        "scheduling.AppointmentRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referral",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "status", "-created_at"], name="msg_referral_patient"),
            models.Index(fields=["status", "-created_at"], name="msg_referral_status"),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} to {self.specialty} for {self.patient}"

    @property
    def campus(self) -> Campus | None:
        """Where its times are shown: its conversation's campus, else the preferred one."""
        if self.thread is not None and self.thread.campus is not None:
            return self.thread.campus
        return self.preferred_campus
