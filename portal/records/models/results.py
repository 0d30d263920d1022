"""Results: reports (lab panels, imaging studies), their observations, images, guides and corrections."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Practitioner
from portal.patients.models import Patient
from portal.records.models.base import RecordItem
from portal.records.models.clinical import Encounter


class ResultReport(RecordItem):
    """A lab panel, imaging study report or other diagnostic report (FHIR DiagnosticReport).

    Patients see a report once `available_at` has passed (at once by default; a clinic's
    hold rule can delay it, a clinician can release it early) and, if they asked to wait
    for their clinician in this category, once it has been reviewed.
    """

    class Category(models.TextChoices):
        LAB = "lab", _("Laboratory")
        IMAGING = "imaging", _("Imaging")
        PATHOLOGY = "pathology", _("Pathology")
        GENETICS = "genetics", _("Genetic testing")
        CARDIOLOGY = "cardiology", _("Heart tests")
        OTHER = "other", _("Other tests")

    class Status(models.TextChoices):
        PRELIMINARY = "preliminary", _("Preliminary")
        FINAL = "final", _("Final")
        CORRECTED = "corrected", _("Corrected")
        CANCELLED = "cancelled", _("Cancelled")

    category = models.CharField(_("type"), max_length=20, choices=Category.choices, default=Category.LAB)
    code = models.CharField(
        _("code"), max_length=40, blank=True, help_text=_("LOINC code of the panel or study.")
    )
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.FINAL)
    effective_at = models.DateTimeField(_("collected or performed"))
    issued_at = models.DateTimeField(_("reported"))
    encounter = models.ForeignKey(
        Encounter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ordered_by = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ordered_by_name = models.CharField(_("ordered by"), max_length=200, blank=True)
    performer = models.CharField(_("performed by"), max_length=200, blank=True)
    conclusion = models.TextField(_("comment"), blank=True)
    # Imaging reports.
    modality = models.CharField(_("modality"), max_length=20, blank=True)
    body_site = models.CharField(_("body part"), max_length=100, blank=True)
    study_uid = models.CharField(_("study UID"), max_length=80, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    impression = models.TextField(_("impression"), blank=True)
    # Release to the patient.
    available_at = models.DateTimeField(_("available to the patient"), default=timezone.now)
    hold_reason = models.TextField(_("reason held"), blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed by a clinician"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(RecordItem.Meta):
        ordering = ["-effective_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-effective_at", "-id"], name="records_report_patient_date"),
            models.Index(fields=["patient", "category", "-effective_at"], name="records_report_category"),
            models.Index(fields=["available_at"], name="records_report_available"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.effective_at:%Y-%m-%d}"

    @property
    def is_held(self) -> bool:
        return self.available_at > timezone.now()


class Observation(RecordItem):
    """One measured value: a lab result in a panel, or a vital sign (FHIR Observation)."""

    class Category(models.TextChoices):
        LABORATORY = "laboratory", _("Laboratory")
        VITAL_SIGNS = "vital-signs", _("Vital signs")
        IMAGING = "imaging", _("Imaging")
        OTHER = "other", _("Other")

    class Interpretation(models.TextChoices):
        NORMAL = "N", _("Normal")
        LOW = "L", _("Low")
        HIGH = "H", _("High")
        CRITICAL_LOW = "LL", _("Critically low")
        CRITICAL_HIGH = "HH", _("Critically high")
        ABNORMAL = "A", _("Abnormal")
        UNKNOWN = "", _("Not flagged")

    Status = ResultReport.Status

    report = models.ForeignKey(
        ResultReport, on_delete=models.CASCADE, null=True, blank=True, related_name="observations"
    )
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.LABORATORY
    )
    code = models.CharField(_("code"), max_length=40, help_text=_("LOINC code."))
    name = models.CharField(_("test"), max_length=200)
    value_number = models.DecimalField(_("value"), max_digits=16, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(_("value (text)"), max_length=500, blank=True)
    unit = models.CharField(_("unit"), max_length=40, blank=True)
    range_low = models.DecimalField(_("range low"), max_digits=16, decimal_places=4, null=True, blank=True)
    range_high = models.DecimalField(_("range high"), max_digits=16, decimal_places=4, null=True, blank=True)
    range_text = models.CharField(_("reference range"), max_length=100, blank=True)
    interpretation = models.CharField(
        _("flag"), max_length=2, choices=Interpretation.choices, default=Interpretation.UNKNOWN, blank=True
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.FINAL)
    effective_at = models.DateTimeField(_("collected"))
    position = models.PositiveSmallIntegerField(default=0)
    note = models.TextField(_("lab comment"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["report_id", "position", "id"]
        indexes = [
            models.Index(fields=["patient", "code", "-effective_at", "-id"], name="records_obs_trend"),
            # The API's Observation searches by category (labs, vital signs), newest first:
            # without it the database sorts every value of the patient to return a page.
            models.Index(fields=["patient", "category", "-effective_at", "-id"], name="records_obs_category"),
            models.Index(fields=["report", "position"], name="records_obs_report"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.display_value}"

    @property
    def display_value(self) -> str:
        if self.value_number is not None:
            return f"{_plain_number(self.value_number)} {self.unit}".strip()
        return self.value_text

    @property
    def display_range(self) -> str:
        if self.range_text:
            return self.range_text
        low, high = self.range_low, self.range_high
        if low is not None and high is not None:
            return f"{_plain_number(low)} - {_plain_number(high)} {self.unit}".strip()
        if low is not None:
            return f"≥ {_plain_number(low)} {self.unit}".strip()
        if high is not None:
            return f"≤ {_plain_number(high)} {self.unit}".strip()
        return ""

    @property
    def is_abnormal(self) -> bool:
        return self.interpretation not in (self.Interpretation.NORMAL, self.Interpretation.UNKNOWN)


def _plain_number(value: Decimal) -> str:
    """4.5000 -> "4.5", 140.0000 -> "140": what the lab printed, without storage padding."""
    return format(value.normalize(), "f")


class LabTestGuide(models.Model):
    """A plain-language note of what a test measures, by LOINC code, shown beside results."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField()

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ImagingImage(models.Model):
    """A key image of an imaging study, converted from DICOM to a web image on import."""

    report = models.ForeignKey(ResultReport, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    image = models.FileField(upload_to="records/imaging/%Y/%m/", max_length=200)
    content_type = models.CharField(max_length=40, default="image/png")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=200, blank=True)
    sop_instance_uid = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["report", "position", "id"]

    def __str__(self) -> str:
        return f"Image {self.position} of report {self.report_id}"


class Correction(models.Model):
    """What a record row said before staff corrected it, and why: the visible history."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    item_type = models.CharField(max_length=40)  # model label, e.g. "records.observation"
    item_id = models.PositiveBigIntegerField()
    previous = models.JSONField()
    reason = models.TextField()
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    corrected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-corrected_at", "-id"]
        indexes = [models.Index(fields=["item_type", "item_id"], name="records_correction_item")]

    def __str__(self) -> str:
        return f"{self.item_type} {self.item_id} corrected {self.corrected_at:%Y-%m-%d}"
