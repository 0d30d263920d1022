"""Pre-check-in: what a patient has done before a visit, saved step by step."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.patients.models import Patient
from portal.scheduling.models.appointments import Appointment
from portal.scheduling.models.catalog import ConsentForm, Questionnaire


class PreCheckIn(models.Model):
    """Progress through pre-check-in for one appointment. Each step records when it was done,
    so a patient can stop and come back, and the desk sees what is left.

    Questionnaires and consents count as done from their own rows
    (`QuestionnaireAnswers` completed, `ConsentSignature` present).
    """

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="pre_check_in")
    demographics_confirmed_at = models.DateTimeField(null=True, blank=True)
    medications_reviewed_at = models.DateTimeField(null=True, blank=True)
    allergies_reviewed_at = models.DateTimeField(null=True, blank=True)
    insurance_reviewed_at = models.DateTimeField(null=True, blank=True)
    # What the patient said has changed since the list was made, for the clinician.
    medication_changes = models.TextField(_("changes to your medications"), max_length=2000, blank=True)
    allergy_changes = models.TextField(_("changes to your allergies"), max_length=2000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Pre-check-in for appointment {self.appointment_id}"


class QuestionnaireAnswers(models.Model):
    """A patient's answers to a questionnaire, shaped like a FHIR QuestionnaireResponse.

    `items` is the response's `item` list ({"linkId", "text", "answer": [{"valueX"}]}).
    Saved as the patient goes (in-progress) and marked completed when submitted.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in-progress", _("Started")
        COMPLETED = "completed", _("Completed")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="questionnaire_answers")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="answers")
    questionnaire_version = models.CharField(max_length=20)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="questionnaire_answers"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    items = models.JSONField(default=list)
    authored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "questionnaire"], name="one_answer_set_per_visit"),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} answers for appointment {self.appointment_id}"


class ConsentSignature(models.Model):
    """A consent form signed by typing a name, by the patient or someone acting for them."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consent_signatures")
    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, related_name="signatures")
    form_version = models.CharField(max_length=20)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="consent_signatures"
    )
    signed_name = models.CharField(_("full name"), max_length=200)
    signer_role = models.CharField(max_length=20, help_text=_("patient, or how the signer acts for them"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "form"], name="one_signature_per_visit_form"),
        ]

    def __str__(self) -> str:
        return f"{self.form} signed {self.signed_at:%Y-%m-%d}"
