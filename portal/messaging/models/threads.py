"""Conversations between a patient (or their proxy) and a staff pool."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, CareTeam
from portal.patients.models import Patient


class Topic(models.TextChoices):
    """What a message is about; it decides which staff pool answers (see `routing.py`)."""

    MEDICAL = "medical", _("Medical question")
    RESULT = "result", _("Question about a test result")
    PRESCRIPTION = "prescription", _("Prescription")
    REFERRAL = "referral", _("Referral")
    APPOINTMENT = "appointment", _("Appointment")
    BILLING = "billing", _("Billing")
    OTHER = "other", _("Something else")


class Thread(models.Model):
    """One conversation about one patient, answered by one staff pool at a time.

    `due_at` is when the pool should have answered the patient's oldest unanswered
    message (its response-time target); it is cleared when staff reply, and a thread
    past it is overdue.

    `sensitivity` is a confidential category slug (like a record item's, e.g.
    "mental-health") or blank: a thread about an adolescent's confidential care is kept
    from a parent exactly as the record is (`access.patient_threads`).
    """

    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING_ON_PATIENT = "waiting", _("Waiting on patient")
        CLOSED = "closed", _("Closed")

    OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="message_threads")
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    subject = models.CharField(_("subject"), max_length=150)
    pool = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="message_threads")
    # The clinical team the patient wrote to (kept when the thread moves to another pool).
    care_team = models.ForeignKey(
        CareTeam, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    campus = models.ForeignKey(Campus, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_by_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    # Archiving is the patient side's tidying; staff close threads instead.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Set from what the thread is about (a result, medications) or by staff; see
    # PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES and patients.access.filter_confidential.
    sensitivity = models.CharField(_("confidential category"), max_length=40, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "archived_at", "-last_message_at", "-id"], name="msg_thread_patient"
            ),
            models.Index(fields=["pool", "status", "-last_message_at", "-id"], name="msg_thread_pool"),
            models.Index(fields=["pool", "status", "due_at"], name="msg_thread_due"),
            models.Index(fields=["assigned_to", "status", "-last_message_at"], name="msg_thread_assignee"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.is_open and self.due_at is not None and self.due_at < moment  # type: ignore[operator]


class Message(models.Model):
    """One message in a thread. The body is plain text, shown escaped with links made clickable.

    `read_at` is when the other side (staff for a patient's message, the patient or a
    proxy for staff's) first opened it, and `read_by` who that was: a proxy opening a
    reply is not the patient reading it.
    """

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_staff = models.BooleanField(default=False)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A result or appointment the message is about, shown as a link beside it.
    result = models.ForeignKey(
        "records.ResultReport", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A random key the compose and reply forms carry: the same form sent twice (a double
    # click, a reload after a slow answer) stores one message.
    client_key = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_key"],
                condition=~models.Q(client_key=""),
                name="msg_message_sent_once",
            ),
        ]
        indexes = [
            models.Index(fields=["thread", "created_at", "id"], name="msg_message_thread"),
            models.Index(fields=["thread", "from_staff", "read_at"], name="msg_message_unread"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} in thread {self.thread_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the sender's file name: it is theirs to choose, so it could be a path trick.
    return f"messaging/{timezone.now():%Y/%m}/{secrets.token_hex(16)}"


class Attachment(models.Model):
    """A checked file sent with a message: a PDF as sent, an image re-encoded without metadata."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or f"attachment {self.pk}"


class StaffNote(models.Model):
    """An internal note on a thread: staff only, never shown to the patient or their proxies."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="staff_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note {self.pk} on thread {self.thread_id}"


class ReplyTemplate(models.Model):
    """A stock reply staff can start from; for one pool, or for every pool when `pool` is empty."""

    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(_("text"))
    pool = models.ForeignKey(
        CareTeam, on_delete=models.CASCADE, null=True, blank=True, related_name="reply_templates"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
