"""A video visit: who is in it, the signaling that connects their browsers, and its chat.

Media goes browser to browser (or through the clinic's TURN server); the portal carries
only the signaling (session descriptions and ICE candidates) and the chat, through the
same access policy as every other page. Nothing of the audio or video is stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.scheduling.models import Appointment


class VideoVisit(models.Model):
    """The live side of one video appointment: open from shortly before it starts until ended."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Not started")
        IN_PROGRESS = "in_progress", _("In progress")
        ENDED = "ended", _("Ended")

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="video_visit")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Video visit for appointment {self.appointment_id}"

    @property
    def is_ended(self) -> bool:
        return self.status == self.Status.ENDED


class Participant(models.Model):
    """A person's seat in a video visit: the patient or a proxy, the clinician hosting it,
    or staff the host invited (a second clinician or an interpreter).

    `session` changes each time the person (re)joins from a page, so the others can tell
    a reload from the same connection and start a fresh one.
    """

    class Role(models.TextChoices):
        PATIENT = "patient", _("Patient")
        PROXY = "proxy", _("Family member or carer")
        HOST = "host", _("Clinician")
        CLINICIAN = "clinician", _("Second clinician")
        INTERPRETER = "interpreter", _("Interpreter")

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        WAITING = "waiting", _("In the waiting room")
        ADMITTED = "admitted", _("In the visit")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Invitation withdrawn")

    PATIENT_SIDE = (Role.PATIENT, Role.PROXY)
    STAFF_SIDE = (Role.HOST, Role.CLINICIAN, Role.INTERPRETER)

    visit = models.ForeignKey(VideoVisit, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=12, choices=Role.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    display_name = models.CharField(max_length=200)
    session = models.CharField(max_length=40, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    waiting_since = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # When the host's waiting-room list first showed this person: the patient is told
    # their clinician knows they are there.
    seen_by_host_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["visit", "user"], name="one_seat_per_person")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.role}) in visit {self.visit_id}"

    @property
    def on_patient_side(self) -> bool:
        return self.role in self.PATIENT_SIDE


class Signal(models.Model):
    """One signaling message from one participant's page to another's, fetched by polling.

    Deleted when the visit ends: it holds network addresses, never health data.
    """

    class Kind(models.TextChoices):
        DESCRIPTION = "description", "description"
        CANDIDATE = "candidate", "candidate"

    visit = models.ForeignKey(VideoVisit, on_delete=models.CASCADE, related_name="signals")
    sender = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    sender_session = models.CharField(max_length=40)
    recipient = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="inbox")
    recipient_session = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["recipient", "recipient_session", "id"], name="signal_inbox")]

    def __str__(self) -> str:
        return f"{self.kind} {self.sender_id}->{self.recipient_id}"


class ChatLine(models.Model):
    """A line typed into a video visit's chat panel, kept with the visit."""

    visit = models.ForeignKey(VideoVisit, on_delete=models.CASCADE, related_name="chat")
    sender = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Chat line {self.pk} in visit {self.visit_id}"
