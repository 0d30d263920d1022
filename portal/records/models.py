"""The medical record.

Clinical rows (results, imaging, notes, medications, allergies, immunizations, problems,
procedures, visits, documents) share `RecordItem`: the patient, a `sensitivity` slug that
the adolescent-confidentiality rule filters on, and the `source_id` an import keys on so
the same file imported twice changes nothing. Release, sharing and correction requests
follow. Patient-side reads go through `records/access.py`, never these managers directly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Department, Practitioner
from portal.patients.models import Patient


class RecordItem(models.Model):
    """What every clinical row has: whose it is, how sensitive, and where it came from."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    # A confidential category slug (e.g. "mental-health") or blank; see
    # PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES and access.filter_confidential.
    sensitivity = models.CharField(_("sensitivity"), max_length=40, blank=True)
    # "system|value" from the system the row was imported from; blank when entered here.
    source_id = models.CharField(max_length=250, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "source_id"],
                condition=~Q(source_id=""),
                name="%(app_label)s_%(class)s_one_per_source_id",
            )
        ]


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


class ReleaseHoldRule(models.Model):
    """A clinic's narrowly defined clinician-review hold for one result category.

    Results are released at once by default (information-blocking rules); a hold is the
    exception, so it needs a recorded reason and lasts at most PORTAL_RESULT_HOLD_MAX_HOURS.
    """

    category = models.CharField(max_length=20, choices=ResultReport.Category.choices)
    hold_hours = models.PositiveSmallIntegerField()
    reason = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category"]
        constraints = [
            models.UniqueConstraint(
                fields=["category"], condition=Q(active=True), name="records_one_active_hold_per_category"
            )
        ]

    def __str__(self) -> str:
        return f"Hold {self.category} for {self.hold_hours} h"


class ReleasePreference(models.Model):
    """A patient's choice to see results of one category only after their clinician reviewed them."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=20, choices=ResultReport.Category.choices)
    wait_for_review = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "category"], name="records_one_preference_per_category"
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.category}: {'wait' if self.wait_for_review else 'at once'}"


class ResultSeen(models.Model):
    """That a user has opened a report: the "new" mark goes away for them (not for others)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(ResultReport, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "report"], name="records_seen_once")]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.report_id}"


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
