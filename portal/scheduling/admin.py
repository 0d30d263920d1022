"""The clinic's catalogue in Django admin: visit types, questionnaires and consent forms.

Patients' appointments are not edited here: every change to one goes through the
actions in booking.py, so it is audited and never double-books.
"""

from __future__ import annotations

from django.contrib import admin

from portal.scheduling.models import ConsentForm, Questionnaire, VisitType


@admin.register(VisitType)
class VisitTypeAdmin(admin.ModelAdmin[VisitType]):
    list_display = ["name", "department", "duration_minutes", "mode", "self_schedulable", "active"]
    list_filter = ["self_schedulable", "mode", "active", "department"]
    filter_horizontal = ["questionnaires", "consent_forms"]


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin[Questionnaire]):
    list_display = ["title", "version", "status"]


@admin.register(ConsentForm)
class ConsentFormAdmin(admin.ModelAdmin[ConsentForm]):
    list_display = ["title", "version", "active"]
