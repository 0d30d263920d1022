"""Appointments, requests to a campus's scheduling desk, offers of slots, and the waitlist."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Campus, Department, Practitioner
from portal.patients.models import Patient
from portal.scheduling.models.catalog import Mode, VisitType
from portal.scheduling.models.schedules import Slot


class Appointment(models.Model):
    """A booked visit. Statuses are FHIR Appointment's, shown to patients in plain words."""

    class Status(models.TextChoices):
        BOOKED = "booked", _("Scheduled")
        ARRIVED = "arrived", _("Checked in")
        FULFILLED = "fulfilled", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NOSHOW = "noshow", _("Missed")

    class Via(models.TextChoices):
        SELF = "self", _("Booked online")
        DESK = "desk", _("Booked by the scheduling desk")
        REQUEST = "request", _("Booked from your request")
        WAITLIST = "waitlist", _("Moved to an earlier time")
        RESCHEDULE = "reschedule", _("Rescheduled online")
        IMPORT = "import", _("Imported")

    # The statuses that hold the slot: any other appointment has let it go.
    HOLDS_SLOT = (Status.BOOKED, Status.ARRIVED, Status.FULFILLED, Status.NOSHOW)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointments")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="appointments")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="appointments")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="appointments")
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IN_PERSON)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    reason = models.CharField(_("reason for visit"), max_length=500, blank=True)
    booked_via = models.CharField(max_length=12, choices=Via.choices, default=Via.SELF)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rescheduled_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rescheduled_to"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=300, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    source_id = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            # The database's own guard against a double booking, behind the conditional
            # UPDATE in booking.claim_slot: one slot, one appointment holding it.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=["booked", "arrived", "fulfilled", "noshow"]),
                name="one_appointment_per_slot",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="appt_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "starts_at"], name="appt_by_patient"),
            models.Index(fields=["campus", "starts_at"], name="appt_by_campus_day"),
            models.Index(fields=["practitioner", "starts_at"], name="appt_by_clinician"),
        ]

    def __str__(self) -> str:
        return f"{self.visit_type} {self.starts_at:%Y-%m-%d %H:%M}Z"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.BOOKED

    @property
    def is_video(self) -> bool:
        return self.mode == Mode.VIDEO


class AppointmentRequest(models.Model):
    """A patient's request to a campus's scheduling desk for a visit they cannot book."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Waiting for the scheduling desk")
        OFFERED = "offered", _("Times offered: choose one")
        BOOKED = "booked", _("Booked")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class TimeOfDay(models.TextChoices):
        ANY = "any", _("Any time")
        MORNING = "morning", _("Mornings")
        AFTERNOON = "afternoon", _("Afternoons")

    OPEN_STATUSES = (Status.SUBMITTED, Status.OFFERED)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointment_requests")
    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="appointment_requests")
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="appointment_requests"
    )
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointment_requests"
    )
    visit_type = models.ForeignKey(
        VisitType, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointment_requests"
    )
    mode = models.CharField(_("visit type"), max_length=10, choices=Mode.choices, blank=True)
    reason = models.TextField(_("reason for the visit"), max_length=2000)
    earliest_date = models.DateField(_("earliest date"), null=True, blank=True)
    latest_date = models.DateField(_("latest date"), null=True, blank=True)
    time_of_day = models.CharField(
        _("preferred time of day"), max_length=10, choices=TimeOfDay.choices, default=TimeOfDay.ANY
    )
    availability_notes = models.CharField(_("other availability notes"), max_length=500, blank=True)
    referred_by = models.CharField(_("referring clinician or organization"), max_length=200, blank=True)
    referral_details = models.TextField(_("referral details"), max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    desk_reply = models.TextField(_("reply from the scheduling desk"), max_length=2000, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    appointment = models.OneToOneField(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="request"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["campus", "status", "created_at"], name="request_queue"),
            models.Index(fields=["patient", "created_at"], name="request_by_patient"),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk} to {self.campus}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class WaitlistEntry(models.Model):
    """A patient's wish to move a booked appointment earlier if a matching slot opens."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Waiting for an earlier time")
        FULFILLED = "fulfilled", _("Moved earlier")
        CANCELLED = "cancelled", _("Stopped")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="waitlist_entries")
    any_clinician = models.BooleanField(
        _("any clinician in the same department at this campus"), default=False
    )
    earliest_date = models.DateField(_("not before"), null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment"], condition=Q(status="active"), name="one_active_waitlist_per_appt"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="waitlist_queue")]

    def __str__(self) -> str:
        return f"Waitlist {self.pk} for appointment {self.appointment_id}"


class SlotOffer(models.Model):
    """A slot offered to a patient: by the desk for a request, or from the waitlist.

    An offer does not reserve the slot by itself; accepting it books through the same
    conditional UPDATE as every booking, so two accepted offers cannot both win.
    """

    class Kind(models.TextChoices):
        REQUEST = "request", _("Offered by the scheduling desk")
        WAITLIST = "waitlist", _("Earlier time")

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for your answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("No longer available")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="slot_offers")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="offers")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    request = models.ForeignKey(
        AppointmentRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="offers"
    )
    waitlist_entry = models.ForeignKey(
        WaitlistEntry, on_delete=models.CASCADE, null=True, blank=True, related_name="offers"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["slot__starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot", "patient"], condition=Q(status="open"), name="one_open_offer_per_slot_patient"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="offer_expiry")]

    def __str__(self) -> str:
        return f"Offer {self.pk} of slot {self.slot_id}"


class PatientNotice(models.Model):
    """ "Running late" or "cannot come", sent by the patient to the campus's desk."""

    class Kind(models.TextChoices):
        RUNNING_LATE = "late", _("Running late")
        CANNOT_COME = "cannot_come", _("Cannot come")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    minutes_late = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(5), MaxValueValidator(120)]
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for appointment {self.appointment_id}"
