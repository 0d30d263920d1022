"""Scheduling rows for tests: a department with a visit type, open slots, a booking.

`scheduling_world(world)` gives the shared test World a Family Medicine department at
its campus, with Carol (the clinician who cares for Alice) holding a weekly session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from portal.audit.actor import Actor
from portal.organization.models import Campus, Department, Practitioner
from portal.patients.access import decide
from portal.patients.models import Patient
from portal.scheduling.booking import do_book_appointment
from portal.scheduling.models import Appointment, Mode, ScheduleTemplate, Slot, VisitType
from portal.test import World


@dataclass
class SchedulingWorld:
    world: World
    department: Department
    follow_up: VisitType  # self-schedulable, 30 minutes
    consult: VisitType  # desk only, 60 minutes
    video: VisitType  # self-schedulable video visit, 30 minutes
    clinician: Practitioner


def scheduling_world(world: World) -> SchedulingWorld:
    department = Department.objects.create(slug="family-medicine", name="Family Medicine")
    department.campuses.add(world.campus)
    world.care_team.department = department
    world.care_team.save(update_fields=["department"])
    clinician = world.clinician.practitioner
    clinician.departments.add(department)
    clinician.campuses.add(world.campus)
    return SchedulingWorld(
        world=world,
        department=department,
        follow_up=make_visit_type(department, "follow-up", "Follow-up visit", self_schedulable=True),
        consult=make_visit_type(department, "new-consult", "New patient consultation", minutes=60),
        video=make_visit_type(
            department, "video-follow-up", "Video follow-up", self_schedulable=True, mode=Mode.VIDEO
        ),
        clinician=clinician,
    )


def make_visit_type(
    department: Department | None,
    slug: str,
    name: str,
    *,
    minutes: int = 30,
    self_schedulable: bool = False,
    mode: str = Mode.IN_PERSON,
    **fields: Any,
) -> VisitType:
    return VisitType.objects.create(
        slug=slug,
        name=name,
        department=department,
        duration_minutes=minutes,
        self_schedulable=self_schedulable,
        mode=mode,
        **fields,
    )


def local_moment(campus: Campus, days_ahead: int, hour: int, minute: int = 0) -> dt.datetime:
    """An aware instant `days_ahead` days from today at hour:minute campus time."""
    day = timezone.now().astimezone(campus.zone).date() + dt.timedelta(days=days_ahead)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=campus.zone)


def make_slot(
    sw: SchedulingWorld,
    starts_at: dt.datetime,
    *,
    minutes: int = 60,
    practitioner: Practitioner | None = None,
    visit_types: list[VisitType] | None = None,
    campus: Campus | None = None,
    department: Department | None = None,
) -> Slot:
    """One open slot, with the one-off template that owns it."""
    campus = campus or sw.world.campus
    local = starts_at.astimezone(campus.zone)
    end = (dt.datetime.combine(local.date(), local.time()) + dt.timedelta(minutes=minutes)).time()
    template = ScheduleTemplate.objects.create(
        practitioner=practitioner or sw.clinician,
        campus=campus,
        department=department or sw.department,
        weekday=local.weekday(),
        starts=local.time(),
        ends=end if end > local.time() else dt.time(23, 59),
        slot_minutes=minutes,
        valid_from=local.date(),
        valid_until=local.date(),
    )
    template.visit_types.set(visit_types or [sw.follow_up, sw.consult, sw.video])
    return Slot.objects.create(
        template=template,
        practitioner=template.practitioner,
        campus=campus,
        department=template.department,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=minutes),
    )


def book(
    sw: SchedulingWorld,
    slot: Slot,
    visit_type: VisitType | None = None,
    patient: Patient | None = None,
    **options: Any,
) -> Appointment:
    """Book through the real action, as the patient themself."""
    patient = patient or sw.world.alice
    user = patient.account or sw.world.alice_user
    access = decide(user, patient)
    assert access is not None
    return do_book_appointment(Actor(user=user), access, slot, visit_type or sw.follow_up, **options)


def phoenix_campus() -> Campus:
    """A second campus, in Arizona (no daylight saving time)."""
    return Campus.objects.create(
        slug="phoenix",
        name="Phoenix, Arizona",
        short_name="Phoenix",
        address_line="5777 East Mayo Boulevard",
        city="Phoenix",
        region="AZ",
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0101",
    )
