"""Clinicians' schedules, and the slots they open.

A `ScheduleTemplate` is a weekly session (Tuesdays 8:00-12:00 at Rochester, 30-minute
slots, these visit types) in the campus's local time. `slots.generate_slots` turns
templates into `Slot` rows for the coming months, converting each local start to UTC
with the campus's zone, so a 9:00 session stays at 9:00 across daylight-saving changes.
A `ScheduleBlock` (leave, a meeting, a closed clinic) blocks the open slots it covers.

Slots are rows, not computed on the fly, because the booking guarantee lives in them:
booking is one conditional UPDATE from open to booked, which exactly one of any number
of concurrent requests can win (see `booking.py`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Department, OpeningHours, Practitioner
from portal.scheduling.models.catalog import VisitType


class ScheduleTemplate(models.Model):
    """One weekly session of a clinician at a campus, from `valid_from` to `valid_until`.

    A one-off extra session is a template whose two dates are the same day.
    """

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="schedule_templates"
    )
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="schedule_templates")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="schedule_templates")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=OpeningHours.Weekday.choices)
    starts = models.TimeField(_("starts (campus time)"))
    ends = models.TimeField(_("ends (campus time)"))
    slot_minutes = models.PositiveSmallIntegerField(
        _("slot length (minutes)"), validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    visit_types = models.ManyToManyField(VisitType, related_name="schedule_templates")
    valid_from = models.DateField(_("from"))
    valid_until = models.DateField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["practitioner", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(ends__gt=models.F("starts")), name="session_ends_after_start"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="session_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"

    def runs_on(self, day: dt.date) -> bool:
        return (
            day.weekday() == self.weekday
            and day >= self.valid_from
            and (self.valid_until is None or day <= self.valid_until)
        )


class ScheduleBlock(models.Model):
    """Time a clinician cannot see patients: leave, a meeting, a closed clinic.

    Blocks the open slots it overlaps; booked appointments inside it are left for the
    desk to move (the desk's schedule page lists them).
    """

    class Kind(models.TextChoices):
        LEAVE = "leave", _("Leave")
        MEETING = "meeting", _("Meeting or admin time")
        CLOSED = "closed", _("Clinic closed")
        OTHER = "other", _("Other")

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="schedule_blocks")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.LEAVE)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="block_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} {self.get_kind_display()} {self.starts_at:%Y-%m-%d}"


class Slot(models.Model):
    """One bookable period of one clinician's time.

    `status` moves open -> booked only through `booking.claim_slot`, a conditional
    UPDATE; cancelling sets it back to open at once. `held_until` keeps a freed slot
    for the patients it was offered to from the waitlist, so the general search does
    not hand it to someone else while they decide.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        BOOKED = "booked", _("Booked")
        BLOCKED = "blocked", _("Blocked")

    template = models.ForeignKey(ScheduleTemplate, on_delete=models.PROTECT, related_name="slots")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="slots")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="slots")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practitioner", "starts_at"], name="one_slot_per_clinician_start"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["campus", "department", "status", "starts_at"], name="slot_search"),
            models.Index(fields=["practitioner", "status", "starts_at"], name="slot_by_clinician"),
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} {self.starts_at:%Y-%m-%d %H:%M}Z"

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)
