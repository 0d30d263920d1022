from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.lib.crypto.storage import encrypted_storage
from portal.patients.models import Patient, ProxyGrant, Scope


def _document_path(document: ProxyDocument, filename: str) -> str:
    # The stored name is random: nothing a visitor typed reaches the file system.
    return f"proxy-documents/{secrets.token_hex(16)}{ProxyDocument.EXTENSIONS[document.content_type]}"


class ProxyDocument(models.Model):
    """Proof that supports proxy access: a birth certificate, a court order, a power of attorney.

    Stored under MEDIA_ROOT with a random name, never served from there: staff download
    it through the access policy for its patient (`patient` is empty while a request's
    details match no patient, and then nobody can download it).
    """

    class ContentType(models.TextChoices):
        PDF = "application/pdf", "PDF"
        JPEG = "image/jpeg", "JPEG"
        PNG = "image/png", "PNG"

    EXTENSIONS: dict[str, str] = {ContentType.PDF: ".pdf", ContentType.JPEG: ".jpg", ContentType.PNG: ".png"}

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="proxy_documents"
    )
    grant = models.ForeignKey(
        ProxyGrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="documents"
    )
    # Encrypted at rest with the field-encryption keys (docs/security-at-rest.md).
    file = models.FileField(upload_to=_document_path, storage=encrypted_storage, max_length=200)
    content_type = models.CharField(max_length=40, choices=ContentType.choices)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name or self.file.name

    @property
    def download_name(self) -> str:
        return f"proxy-document-{self.pk}{self.EXTENSIONS.get(self.content_type, '')}"


class ProxyRequest(models.Model):
    """A parent's or guardian's request to act for a child, waiting for staff to decide.

    The details are kept as typed. `patient` is set when they match a patient exactly
    (clinic number and date of birth); the requester is never told whether they did.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the clinic")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    RELATIONSHIPS = [
        ProxyGrant.Relationship.PARENT,
        ProxyGrant.Relationship.LEGAL_REPRESENTATIVE,
        ProxyGrant.Relationship.CAREGIVER,
    ]

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proxy_requests"
    )
    clinic_number = models.CharField(_("child's clinic number"), max_length=12)
    given_name = models.CharField(_("child's first name"), max_length=100)
    family_name = models.CharField(_("child's last name"), max_length=100)
    birth_date = models.DateField(_("child's date of birth"))
    relationship = models.CharField(_("relationship"), max_length=20, choices=ProxyGrant.Relationship.choices)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="proxy_requests"
    )
    document = models.OneToOneField(ProxyDocument, on_delete=models.PROTECT, related_name="proxy_request")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decline_reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    grant = models.OneToOneField(
        ProxyGrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="proxy_request"
    )
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "patient"]),
            models.Index(fields=["requester", "-created_at"]),
        ]
        constraints = [
            # One waiting request per requester and child, even when two arrive at once.
            models.UniqueConstraint(
                fields=["requester", "clinic_number"],
                condition=models.Q(status="pending"),
                name="proxy_request_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.requester} for {self.given_name} {self.family_name} ({self.status})"

    @property
    def child_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class ProxyInvitation(models.Model):
    """An invitation, sent by email, for another adult to act for a patient.

    The patient sends it, or whoever manages their account (a young child's parent).

    The link carries a signed token naming this invitation and its nonce; it works once,
    for `PORTAL_PROXY_INVITATION_DAYS`, and accepting it creates the `ProxyGrant`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a reply")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled")

    RELATIONSHIPS = [
        ProxyGrant.Relationship.SPOUSE,
        ProxyGrant.Relationship.CHILD,
        ProxyGrant.Relationship.PARENT,
        ProxyGrant.Relationship.CAREGIVER,
        ProxyGrant.Relationship.OTHER,
    ]

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="proxy_invitations")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("their name"), max_length=150)
    email = models.EmailField(_("their email"))
    relationship = models.CharField(_("relationship"), max_length=20, choices=ProxyGrant.Relationship.choices)
    scopes = models.JSONField(_("scopes"), default=list, help_text=_("A list of Scope values."))
    access_expires_at = models.DateTimeField(_("access ends"), null=True, blank=True)
    nonce = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    grant = models.OneToOneField(
        ProxyGrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitation"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.patient} invites {self.email} ({self.status})"

    @classmethod
    def relationships_for(cls, patient: Patient) -> list[str]:
        """What an invitee may be to the patient.

        Not a young child's parent: that grant would manage the child's account, so it
        takes the clinic's check of a proof document (a parent's request) instead.
        """
        if patient.age_on(timezone.localdate()) < settings.PORTAL_PROXY_CONFIDENTIAL_FROM_AGE:
            return [ProxyGrant.Relationship.CAREGIVER, ProxyGrant.Relationship.OTHER]
        return list(cls.RELATIONSHIPS)

    @property
    def on_behalf(self) -> bool:
        """Sent by someone who manages the patient's account (a parent, say), not the patient."""
        return self.invited_by_id != self.patient.account_id

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes) & frozenset(Scope.values)

    def usable(self, at: dt.datetime | None = None) -> bool:
        return self.status == self.Status.PENDING and (at or timezone.now()) < self.expires_at
