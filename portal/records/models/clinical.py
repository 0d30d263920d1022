"""The rest of the clinical record: visits, notes, medications, allergies, immunizations, problems, procedures, documents."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Department, Practitioner
from portal.records.models.base import RecordItem


class Encounter(RecordItem):
    """A visit and its after-visit summary: what happened, who, diagnoses, instructions."""

    class Kind(models.TextChoices):
        OFFICE = "office", _("Office visit")
        VIDEO = "video", _("Video visit")
        TELEPHONE = "telephone", _("Telephone visit")
        HOSPITAL = "hospital", _("Hospital stay")
        EMERGENCY = "emergency", _("Emergency visit")

    class Status(models.TextChoices):
        FINISHED = "finished", _("Completed")
        IN_PROGRESS = "in-progress", _("In progress")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("visit type"), max_length=20, choices=Kind.choices, default=Kind.OFFICE)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.FINISHED)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    campus = models.ForeignKey(Campus, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    practitioner_name = models.CharField(_("seen by"), max_length=200, blank=True)
    reason = models.CharField(_("reason for visit"), max_length=300, blank=True)
    summary = models.TextField(_("what happened"), blank=True)
    # [{"code": "I10", "system": "http://hl7.org/fhir/sid/icd-10-cm", "name": "Hypertension"}, ...]
    diagnoses = models.JSONField(_("diagnoses"), default=list, blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    follow_up = models.TextField(_("follow-up"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["patient", "-started_at", "-id"], name="records_enc_patient_date")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d}"


class ClinicalNote(RecordItem):
    """A visit note, discharge summary, letter or other clinical text."""

    class Kind(models.TextChoices):
        VISIT_NOTE = "visit-note", _("Visit note")
        PROGRESS_NOTE = "progress-note", _("Progress note")
        DISCHARGE_SUMMARY = "discharge-summary", _("Discharge summary")
        CONSULT_NOTE = "consult-note", _("Consultation note")
        LETTER = "letter", _("Letter")

    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        AMENDED = "amended", _("Amended")
        ENTERED_IN_ERROR = "entered-in-error", _("Entered in error")

    kind = models.CharField(_("type"), max_length=30, choices=Kind.choices, default=Kind.VISIT_NOTE)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.CURRENT)
    written_at = models.DateTimeField(_("written"))
    author = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(_("author"), max_length=200, blank=True)
    encounter = models.ForeignKey(
        Encounter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(_("note"))

    class Meta(RecordItem.Meta):
        ordering = ["-written_at", "-id"]
        indexes = [models.Index(fields=["patient", "-written_at", "-id"], name="records_note_patient_date")]

    def __str__(self) -> str:
        return self.title


class Medication(RecordItem):
    """A medication the patient takes or took (FHIR MedicationRequest / MedicationStatement)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ON_HOLD = "on-hold", _("On hold")
        COMPLETED = "completed", _("Completed")
        STOPPED = "stopped", _("Stopped")

    name = models.CharField(_("medication"), max_length=200)
    code = models.CharField(_("RxNorm code"), max_length=40, blank=True)
    dose = models.CharField(_("dose"), max_length=100, blank=True)
    route = models.CharField(_("route"), max_length=60, blank=True)
    instructions = models.CharField(_("how to take"), max_length=500, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    prescriber = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    prescriber_name = models.CharField(_("prescriber"), max_length=200, blank=True)
    started_on = models.DateField(_("started"), null=True, blank=True)
    ended_on = models.DateField(_("ended"), null=True, blank=True)
    last_filled_on = models.DateField(_("last filled"), null=True, blank=True)
    refills_remaining = models.PositiveSmallIntegerField(_("refills left"), null=True, blank=True)
    renewable_online = models.BooleanField(_("refill can be requested online"), default=True)
    not_renewable_reason = models.CharField(_("why not online"), max_length=300, blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["patient", "status", "name"], name="records_med_patient")]

    def __str__(self) -> str:
        return f"{self.name} {self.dose}".strip()

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.ON_HOLD)


class Allergy(RecordItem):
    """An allergy or intolerance (FHIR AllergyIntolerance)."""

    class Category(models.TextChoices):
        MEDICATION = "medication", _("Medication")
        FOOD = "food", _("Food")
        ENVIRONMENT = "environment", _("Environment")
        BIOLOGIC = "biologic", _("Biologic")

    class Severity(models.TextChoices):
        MILD = "mild", _("Mild")
        MODERATE = "moderate", _("Moderate")
        SEVERE = "severe", _("Severe")
        UNKNOWN = "", _("Not recorded")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        RESOLVED = "resolved", _("Resolved")

    substance = models.CharField(_("allergic to"), max_length=200)
    code = models.CharField(_("code"), max_length=40, blank=True)
    category = models.CharField(_("type"), max_length=20, choices=Category.choices, blank=True)
    reaction = models.CharField(_("reaction"), max_length=300, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    recorded_on = models.DateField(_("recorded"))
    note = models.TextField(_("note"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["substance", "id"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class Immunization(RecordItem):
    """A vaccine given (or recorded as not given)."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Given")
        NOT_DONE = "not-done", _("Not given")

    vaccine = models.CharField(_("vaccine"), max_length=200)
    code = models.CharField(_("CVX code"), max_length=10, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    given_on = models.DateField(_("date"))
    dose_number = models.PositiveSmallIntegerField(_("dose"), null=True, blank=True)
    lot_number = models.CharField(_("lot"), max_length=40, blank=True)
    site = models.CharField(_("site"), max_length=60, blank=True)
    performer_name = models.CharField(_("given by"), max_length=200, blank=True)
    campus = models.ForeignKey(Campus, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.TextField(_("note"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["-given_on", "-id"]
        indexes = [models.Index(fields=["patient", "-given_on"], name="records_imm_patient_date")]

    def __str__(self) -> str:
        return f"{self.vaccine} {self.given_on}"


class Problem(RecordItem):
    """A problem or condition (FHIR Condition)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RECURRENCE = "recurrence", _("Came back")
        INACTIVE = "inactive", _("Inactive")
        RESOLVED = "resolved", _("Resolved")

    class Category(models.TextChoices):
        PROBLEM_LIST = "problem-list-item", _("Problem list")
        ENCOUNTER_DIAGNOSIS = "encounter-diagnosis", _("Visit diagnosis")
        HEALTH_CONCERN = "health-concern", _("Health concern")

    name = models.CharField(_("condition"), max_length=200)
    code = models.CharField(_("code"), max_length=40, blank=True)
    code_system = models.CharField(_("code system"), max_length=100, blank=True)
    category = models.CharField(
        _("category"), max_length=30, choices=Category.choices, default=Category.PROBLEM_LIST
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    onset_on = models.DateField(_("started"), null=True, blank=True)
    abated_on = models.DateField(_("resolved"), null=True, blank=True)
    recorded_on = models.DateField(_("recorded"))
    note = models.TextField(_("note"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["status", "name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.RECURRENCE)


class Procedure(RecordItem):
    """A procedure or operation done for the patient."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        IN_PROGRESS = "in-progress", _("In progress")
        NOT_DONE = "not-done", _("Not done")

    name = models.CharField(_("procedure"), max_length=200)
    code = models.CharField(_("code"), max_length=40, blank=True)
    code_system = models.CharField(_("code system"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    performed_at = models.DateTimeField(_("date"))
    performer_name = models.CharField(_("done by"), max_length=200, blank=True)
    campus = models.ForeignKey(Campus, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta(RecordItem.Meta):
        ordering = ["-performed_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Document(RecordItem):
    """A file in the record: an outside record, a signed form, a scanned letter."""

    class Kind(models.TextChoices):
        LETTER = "letter", _("Letter")
        FORM = "form", _("Form")
        OUTSIDE_RECORD = "outside-record", _("Record from another provider")
        INSTRUCTIONS = "instructions", _("Instructions")
        OTHER = "other", _("Other document")

    kind = models.CharField(_("type"), max_length=30, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    dated_on = models.DateField(_("date"))
    file = models.FileField(upload_to="records/documents/%Y/%m/", max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    encounter = models.ForeignKey(
        Encounter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(RecordItem.Meta):
        ordering = ["-dated_on", "-id"]

    def __str__(self) -> str:
        return self.title
