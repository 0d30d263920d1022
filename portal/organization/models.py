from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


class Campus(models.Model):
    """A place where the clinic sees patients, with its own time zone and scheduling desk.

    Appointment times are always shown in the campus's own zone, labelled with
    `zone_label` ("Arizona time"), because patients travel between campuses.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=120)
    short_name = models.CharField(_("short name"), max_length=40)
    address_line = models.CharField(_("street address"), max_length=200)
    city = models.CharField(_("city"), max_length=100)
    region = models.CharField(_("state or region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20)
    country = models.CharField(_("country"), max_length=2, default="US")
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    zone_label = models.CharField(_("time zone label"), max_length=60)
    main_phone = models.CharField(_("main phone"), max_length=30)
    appointments_phone = models.CharField(_("appointments phone"), max_length=30)
    billing_phone = models.CharField(_("billing phone"), max_length=30, blank=True)
    international_phone = models.CharField(_("international phone"), max_length=30, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("campuses")

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def one_line_address(self) -> str:
        parts = [self.address_line, self.city, f"{self.region} {self.postal_code}".strip()]
        return ", ".join(part for part in parts if part)

    def local_now(self) -> dt.datetime:
        return dt.datetime.now(tz=self.zone)


class OpeningHours(models.Model):
    """When a campus (or its scheduling desk) answers, in the campus's local time."""

    class Service(models.TextChoices):
        CAMPUS = "campus", _("Campus")
        SCHEDULING = "scheduling", _("Scheduling desk")

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    campus = models.ForeignKey(Campus, on_delete=models.CASCADE, related_name="opening_hours")
    service = models.CharField(max_length=20, choices=Service.choices, default=Service.CAMPUS)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["campus", "service", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="hours_close_after_open"
            ),
        ]
        verbose_name_plural = _("opening hours")

    def __str__(self) -> str:
        return f"{self.campus.short_name} {self.get_weekday_display()} {self.opens}-{self.closes}"


class Department(models.Model):
    """A specialty or service (Cardiology, Pediatrics, Laboratory) offered at some campuses."""

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=120)
    campuses = models.ManyToManyField(Campus, related_name="departments", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Practitioner(models.Model):
    """A member of staff: clinicians, nurses, schedulers, billing staff, administrators."""

    class Role(models.TextChoices):
        PHYSICIAN = "physician", _("Physician")
        NURSE_PRACTITIONER = "nurse_practitioner", _("Nurse practitioner")
        PHYSICIAN_ASSISTANT = "physician_assistant", _("Physician assistant")
        NURSE = "nurse", _("Nurse")
        SCHEDULER = "scheduler", _("Scheduler")
        BILLING = "billing", _("Billing specialist")
        INTERPRETER = "interpreter", _("Interpreter")
        ADMINISTRATOR = "administrator", _("Administrator")

    CLINICAL_ROLES = frozenset(
        {Role.PHYSICIAN, Role.NURSE_PRACTITIONER, Role.PHYSICIAN_ASSISTANT, Role.NURSE}
    )

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="practitioner",
    )
    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    credentials = models.CharField(_("credentials"), max_length=40, blank=True, help_text=_("e.g. MD, RN"))
    npi = models.CharField(_("NPI"), max_length=10, blank=True)
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    departments = models.ManyToManyField(Department, related_name="practitioners", blank=True)
    campuses = models.ManyToManyField(Campus, related_name="practitioners", blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.given_name} {self.family_name}"
        if self.role == self.Role.PHYSICIAN:
            name = f"Dr. {name}"
        return f"{name}, {self.credentials}" if self.credentials else name

    @property
    def is_clinical(self) -> bool:
        return self.role in self.CLINICAL_ROLES


class CareTeam(models.Model):
    """A pool of staff that patients' work can go to.

    Clinical teams care for assigned patients; each campus has its own scheduling desk
    (there is no central scheduling office); billing and international offices serve
    the whole organisation.
    """

    class Kind(models.TextChoices):
        CLINICAL = "clinical", _("Care team")
        SCHEDULING_DESK = "scheduling_desk", _("Scheduling desk")
        BILLING_OFFICE = "billing_office", _("Billing office")
        INTERNATIONAL_OFFICE = "international_office", _("International office")

    slug = models.SlugField(unique=True)
    name = models.CharField(_("name"), max_length=150)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, default=Kind.CLINICAL)
    campus = models.ForeignKey(
        Campus, on_delete=models.PROTECT, related_name="care_teams", null=True, blank=True
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="care_teams", null=True, blank=True
    )
    members = models.ManyToManyField(Practitioner, related_name="care_teams", blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["campus"],
                condition=models.Q(kind="scheduling_desk"),
                name="one_scheduling_desk_per_campus",
            ),
        ]

    def __str__(self) -> str:
        return self.name
