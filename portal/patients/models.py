from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.lib.crypto.fields import EncryptedTextField
from portal.lib.crypto.storage import encrypted_storage
from portal.organization.models import Campus, CareTeam, Practitioner


class Scope(models.TextChoices):
    """What someone acting for a patient may do. The patient has every scope."""

    VIEW = "view", _("See health record")
    MESSAGE = "message", _("Message the care team")
    SCHEDULE = "schedule", _("Manage appointments")
    BILLING = "billing", _("See and pay bills")


ALL_SCOPES = frozenset(Scope)


class Patient(models.Model):
    """A person the clinic cares for, identified by their clinic number.

    Separate from `User`: a patient may have no account (a child), and one user may act
    for several patients (their own record and those they are a proxy for).
    """

    class Sex(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")
        UNKNOWN = "unknown", _("Unknown")

    clinic_number = models.CharField(_("clinic number"), max_length=12, unique=True)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="own_patient",
        help_text=_("The patient's own sign-in, once they have activated one."),
    )
    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    preferred_name = models.CharField(_("preferred name"), max_length=100, blank=True)
    birth_date = models.DateField(_("date of birth"))
    sex_at_birth = models.CharField(_("sex assigned at birth"), max_length=10, choices=Sex.choices)
    gender_identity = models.CharField(_("gender identity"), max_length=60, blank=True)
    pronouns = models.CharField(_("pronouns"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    mobile_phone = models.CharField(_("mobile phone"), max_length=30, blank=True)
    home_phone = models.CharField(_("home phone"), max_length=30, blank=True)
    address_line = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("state or region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="US")
    preferred_language = models.CharField(_("preferred language"), max_length=10, default="en")
    primary_campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="patients")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        indexes = [
            models.Index(fields=["family_name", "given_name"]),
            models.Index(fields=["birth_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.clinic_number})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def greeting_name(self) -> str:
        return self.preferred_name or self.given_name

    def age_on(self, day: dt.date) -> int:
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)


class ProxyGrantQuerySet(models.QuerySet["ProxyGrant"]):
    def active(self, at: dt.datetime | None = None) -> ProxyGrantQuerySet:
        at = at or timezone.now()
        return self.filter(
            Q(starts_at__lte=at),
            Q(expires_at__isnull=True) | Q(expires_at__gt=at),
            revoked_at__isnull=True,
        )


class ProxyGrant(models.Model):
    """Permission for one user to act for a patient, with scopes and an expiry.

    Parents of children and carers of dependent adults hold these. The access policy
    honours only grants that have started, not expired and not been revoked.
    """

    class Relationship(models.TextChoices):
        PARENT = "parent", _("Parent or guardian")
        SPOUSE = "spouse", _("Spouse or partner")
        CHILD = "child", _("Adult child")
        CAREGIVER = "caregiver", _("Caregiver")
        LEGAL_REPRESENTATIVE = "legal", _("Legal representative")
        OTHER = "other", _("Other")

    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proxy_grants"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="proxy_grants")
    relationship = models.CharField(_("relationship"), max_length=20, choices=Relationship.choices)
    scopes = models.JSONField(_("scopes"), default=list, help_text=_("A list of Scope values."))
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProxyGrantQuerySet.as_manager()

    class Meta:
        ordering = ["patient", "grantee"]
        indexes = [models.Index(fields=["grantee", "patient"])]

    def __str__(self) -> str:
        return f"{self.grantee} for {self.patient} ({', '.join(self.scopes)})"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes) & frozenset(Scope.values)


class CareRelationship(models.Model):
    """A care team (and optionally a named clinician) looking after a patient.

    Staff see a patient's record only through one of these, or by break-glass.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_relationships")
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="care_relationships")
    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="care_relationships",
        help_text=_("The patient's named clinician in this team, if any."),
    )
    starts_on = models.DateField(default=dt.date.today)
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["patient", "care_team"]
        indexes = [models.Index(fields=["care_team", "patient"])]

    def __str__(self) -> str:
        return f"{self.care_team} cares for {self.patient}"


class BreakGlassAccess(models.Model):
    """Emergency access by staff to a patient they have no care relationship with.

    Granted only with a typed reason, lasts `BREAK_GLASS_MINUTES`, and is audited and
    flagged for review by a privacy officer.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="break_glass")
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "patient", "expires_at"])]
        verbose_name_plural = _("break-glass accesses")

    def __str__(self) -> str:
        return f"{self.user} broke glass for {self.patient} at {self.created_at:%Y-%m-%d %H:%M}"


def default_email_kinds() -> list[str]:
    return ["messages", "results", "appointments", "billing"]


class CommunicationPreference(models.Model):
    """How a patient wants to hear from the clinic, with the consent text messages need.

    SMS is sent only with explicit consent, recorded with when, by whom and for which
    number; changing the mobile number does not carry consent over to the new one.
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="communication_preference")
    email_updates = models.BooleanField(_("email updates"), default=True)
    sms_updates = models.BooleanField(_("text message updates"), default=False)
    sms_consented_at = models.DateTimeField(_("text messages agreed"), null=True, blank=True)
    sms_consented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sms_consent_phone = models.CharField(_("number agreed for text messages"), max_length=30, blank=True)
    # Which kinds of news (notifications.Kind values) go by each channel; the portal
    # itself always shows everything.
    email_kinds = models.JSONField(default=default_email_kinds)
    sms_kinds = models.JSONField(default=list)
    # No email or text between these wall-clock times at the patient's campus (both
    # empty: any time). Held messages go out when the quiet hours end.
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Communication preferences of {self.patient}"

    @property
    def sms_allowed(self) -> bool:
        """Text messages may go out: wanted, agreed, and to the number that was agreed."""
        return (
            self.sms_updates
            and self.sms_consented_at is not None
            and bool(self.sms_consent_phone)
            and self.sms_consent_phone == self.patient.mobile_phone
        )

    def wants(self, channel: str, kind: str) -> bool:
        """Whether news of `kind` may go by `channel` ("email" or "sms") at all."""
        if channel == "email":
            return self.email_updates and kind in self.email_kinds
        if channel == "sms":
            return self.sms_allowed and kind in self.sms_kinds
        return False


class EmailChange(models.Model):
    """A new email address waiting for its owner to confirm it from the link we sent there.

    The patient's email changes only when the link is followed by the person who asked;
    a newer request cancels older ones.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="email_changes")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    new_email = models.EmailField(_("new email"))
    nonce = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.patient} → {self.new_email} ({self.status})"

    def usable(self, at: dt.datetime | None = None) -> bool:
        return self.status == self.Status.PENDING and (at or timezone.now()) < self.expires_at


def _card_path(coverage: Coverage, filename: str) -> str:
    # A random stored name: nothing the uploader typed reaches the file system.
    return f"insurance-cards/{secrets.token_hex(16)}"


class Coverage(models.Model):
    """An insurance plan the patient has given us, with photos of the card.

    Patients add and update coverages (at pre-check-in or from billing); staff verify
    them. Card photos are stored under MEDIA_ROOT with random names and served only as
    downloads through the access policy.
    """

    class Priority(models.TextChoices):
        PRIMARY = "primary", _("Primary")
        SECONDARY = "secondary", _("Secondary")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the clinic to check")
        VERIFIED = "verified", _("Checked by the clinic")
        REJECTED = "rejected", _("Could not be verified")
        INACTIVE = "inactive", _("No longer used")

    class Subscriber(models.TextChoices):
        SELF = "self", _("The patient")
        SPOUSE = "spouse", _("Spouse or partner")
        PARENT = "parent", _("Parent")
        OTHER = "other", _("Someone else")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    priority = models.CharField(_("primary or secondary"), max_length=10, choices=Priority.choices)
    payer_name = models.CharField(_("insurance company"), max_length=150)
    plan_name = models.CharField(_("plan name"), max_length=150, blank=True)
    # Encrypted at rest with keys kept outside the database (docs/security-at-rest.md).
    member_id = EncryptedTextField(_("member ID"), max_length=40)
    group_number = EncryptedTextField(_("group number"), max_length=40, blank=True)
    subscriber_name = models.CharField(_("policyholder's name"), max_length=200)
    subscriber_relationship = models.CharField(
        _("policyholder is"), max_length=10, choices=Subscriber.choices, default=Subscriber.SELF
    )
    effective_from = models.DateField(_("coverage starts"), null=True, blank=True)
    effective_until = models.DateField(_("coverage ends"), null=True, blank=True)
    card_front = models.FileField(upload_to=_card_path, storage=encrypted_storage, max_length=200, blank=True)
    card_back = models.FileField(upload_to=_card_path, storage=encrypted_storage, max_length=200, blank=True)
    card_front_type = models.CharField(max_length=20, blank=True)
    card_back_type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "status"], name="coverage_by_patient")]

    def __str__(self) -> str:
        return f"{self.payer_name} ({self.masked_member_id})"

    @property
    def masked_member_id(self) -> str:
        """The member ID as screens show it: only the last four characters."""
        return f"••••{self.member_id[-4:]}" if len(self.member_id) > 4 else "••••"

    @property
    def in_use(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.VERIFIED)
