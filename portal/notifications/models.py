from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What a notification is about; patients choose email and text per kind."""

    MESSAGES = "messages", _("Messages from the care team")
    RESULTS = "results", _("New test results and record updates")
    APPOINTMENTS = "appointments", _("Appointments and reminders")
    BILLING = "billing", _("Bills and payments")


class Notification(models.Model):
    """Something a user should know, about a patient they act for.

    Addressed to a user rather than a patient: a parent and the adolescent they are
    proxy for each have their own unread state.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # Empty only for staff notifications that concern no one patient.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="notifications", null=True, blank=True
    )
    # Staff notifications (new message in a pool, overdue thread) show only in the staff
    # workspace, never among the patient pages of a member of staff who is also a patient.
    for_staff = models.BooleanField(default=False)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True, help_text=_("A path inside the portal."))
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "patient", "read_at", "-created_at"], name="notif_inbox"),
            models.Index(
                fields=["recipient", "for_staff", "read_at", "-created_at"], name="notif_staff_inbox"
            ),
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
    # The patient it is about (its language, and who must still be acted for); empty
    # only for staff messages that concern no one patient.
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+", null=True)
    for_staff = models.BooleanField(default=False)
    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # Who or what queued it ("scheduling.reminder"), for the outbox's own pages and logs.
    topic = models.CharField(max_length=60)
    send_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set, and committed, just before handing the message to a provider: a message
    # claimed but never marked sent (the worker died) is retried with the same
    # idempotency key, which the providers use to send it at most once.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    # The random key of this email's unsubscribe link (`unsubscribe.py`), set when an email
    # about a patient's news is first claimed for sending and kept for its retries. It
    # says nothing by itself: the link works by finding this row. Empty for staff email,
    # portal notifications and texts.
    unsubscribe_token = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["send_after", "id"]
        indexes = [models.Index(fields=["sent_at", "cancelled_at", "send_after"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient_id}: {self.subject}"


class MailboxEntry(models.Model):
    """An email or text message delivered locally: the demo's mailbox and the tests' record.

    Written by the local email backend and the local SMS provider instead of sending
    anything; `idempotency_key` makes a retried delivery land once.
    """

    channel = models.CharField(max_length=10, choices=OutboxMessage.Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("mailbox entries")

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}: {self.subject}"
