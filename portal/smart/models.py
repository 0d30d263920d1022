"""Apps that read patients' records through the FHIR API, and what each patient allowed them.

The OAuth clients, codes and tokens themselves are django-oauth-toolkit's
(`oauth2_provider.Application`, `Grant`, `AccessToken`, `RefreshToken`); these tables
add what SMART needs on top: which patient a grant and its tokens are bound to, with
which scopes, and the developer's registration that staff approve.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Patient


class AppRegistration(models.Model):
    """A developer's request to register an app; staff approve it, which creates its OAuth client."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class ClientType(models.TextChoices):
        PUBLIC = "public", _("Public (runs on a phone or in a browser; no secret)")
        CONFIDENTIAL = "confidential", _("Confidential (runs on a server that keeps a secret)")

    developer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("app name"), max_length=100)
    description = models.TextField(_("what the app does"), max_length=2000)
    homepage = models.URLField(_("website"), max_length=300)
    redirect_uris = models.TextField(_("redirect URIs"), help_text=_("One per line; matched exactly."))
    client_type = models.CharField(_("client type"), max_length=12, choices=ClientType.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(max_length=2000, blank=True)
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registration",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PatientAuthorization(models.Model):
    """One person's permission for one app to read one patient's record, with the scopes granted.

    Made on the consent screen (the patient, or a proxy choosing the patient); every code
    and token the app gets from it is bound to it, so revoking it ends them all at once.
    """

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="authorizations"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="app_authorizations")
    scopes = models.TextField(help_text="Space-separated SMART scopes granted.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="smart_auth_by_user")]

    def __str__(self) -> str:
        return f"{self.application_id} for patient {self.patient_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class GrantBinding(models.Model):
    """The authorization an authorization code was issued under (one code, one patient)."""

    grant = models.OneToOneField(
        settings.OAUTH2_PROVIDER_GRANT_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    authorization = models.ForeignKey(PatientAuthorization, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"grant {self.grant_id} -> {self.authorization_id}"


class TokenBinding(models.Model):
    """The authorization an access token was issued under: the patient and scopes it may read."""

    access_token = models.OneToOneField(
        settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, related_name="binding"
    )
    authorization = models.ForeignKey(PatientAuthorization, on_delete=models.CASCADE, related_name="tokens")

    def __str__(self) -> str:
        return f"token {self.access_token_id} -> {self.authorization_id}"
