"""When results reach the patient: the clinic's hold rules, the patient's preferences, and "new" marks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.patients.models import Patient
from portal.records.models.results import ResultReport


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
