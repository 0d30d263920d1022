from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus
from portal.patients.models import Patient


class ActivationCodeQuerySet(models.QuerySet["ActivationCode"]):
    def usable(self, at: dt.datetime | None = None) -> ActivationCodeQuerySet:
        return self.filter(used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=at or timezone.now())


class ActivationCode(models.Model):
    """A one-time code that lets one patient create their own portal account.

    Staff issue it (printed in a letter, or emailed in answer to an access request);
    only a keyed hash is stored, so nobody can read a code back out of the database.
    It works once, expires after `PORTAL_ACTIVATION_CODE_DAYS` and can be revoked.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Cancelled")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="activation_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ActivationCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="activation_code_patient")]

    def __str__(self) -> str:
        return f"activation code #{self.pk} for patient {self.patient_id} ({self.status})"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def status_at(self, at: dt.datetime) -> str:
        if self.used_at is not None:
            return self.Status.USED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= at:
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    def get_status_display(self) -> str:
        return str(self.Status(self.status).label)

    def is_usable(self, at: dt.datetime | None = None) -> bool:
        return self.status_at(at or timezone.now()) == self.Status.ACTIVE


class AccessRequest(models.Model):
    """Someone without an activation code asking for portal access.

    US requests go to the scheduling desk of the campus they were seen at; international
    requests go to the International office. Staff match the request to a patient and
    email them a code, or decline with a reason the requester is told.
    """

    class Kind(models.TextChoices):
        US = "us", _("US resident")
        INTERNATIONAL = "international", _("International")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        MATCHED = "matched", _("Matched")
        CODE_ISSUED = "code_issued", _("Code sent")
        DECLINED = "declined", _("Declined")

    OPEN_STATUSES = (Status.NEW, Status.MATCHED)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    given_name = models.CharField(_("legal first name"), max_length=100)
    family_name = models.CharField(_("legal last name"), max_length=100)
    birth_date = models.DateField(_("date of birth"))
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=30)
    address_line = models.CharField(_("street address"), max_length=200)
    city = models.CharField(_("city"), max_length=100)
    region = models.CharField(_("state or region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=60, default="US")
    clinic_number = models.CharField(_("clinic number"), max_length=20, blank=True)
    campus = models.ForeignKey(
        Campus, on_delete=models.PROTECT, null=True, blank=True, related_name="access_requests"
    )
    message = models.TextField(_("message"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    matched_patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="access_requests"
    )
    activation_code = models.ForeignKey(
        ActivationCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="access_requests"
    )
    decline_reason = models.TextField(_("reason"), blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["kind", "status", "-id"], name="access_request_queue"),
            models.Index(fields=["campus", "kind", "status", "-id"], name="access_request_campus_queue"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="international") | Q(campus__isnull=False),
                name="us_access_request_has_campus",
            ),
        ]

    def __str__(self) -> str:
        return f"access request #{self.pk} ({self.get_kind_display()}, {self.get_status_display()})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
