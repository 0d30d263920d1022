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


class OutboxMessage(models.Model):
    """A message waiting to be delivered: written in the transaction that caused it, sent
    by the worker once `send_after` has passed, at most once (`sent_at`), and dropped
    if what it was about no longer applies (`cancelled_at`).

    `dedupe_key` makes queuing idempotent: the same reminder for the same visit time is
    queued once however many times the booking code runs.
    """

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("In the portal")
        EMAIL = "email", _("Email")
        SMS = "sms", _("Text message")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # Who or what queued it ("scheduling.reminder"), for the outbox's own pages and logs.
    topic = models.CharField(max_length=60)
    send_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["send_after", "id"]
        indexes = [models.Index(fields=["sent_at", "cancelled_at", "send_after"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient_id}: {self.subject}"
