from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """Something a user should know, about a patient they act for.

    Addressed to a user rather than a patient: a parent and the adolescent they are
    proxy for each have their own unread state.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True, help_text=_("A path inside the portal."))
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "patient", "read_at", "-created_at"], name="notif_inbox")
        ]

    def __str__(self) -> str:
        return self.title


class Task(models.Model):
    """Something the patient (or their proxy) needs to do, such as a questionnaire."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("title"), max_length=200)
    detail = models.TextField(_("detail"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True, help_text=_("A path inside the portal."))
    due_on = models.DateField(_("due"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["patient", "completed_at", "due_on"], name="task_open")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.completed_at is None
