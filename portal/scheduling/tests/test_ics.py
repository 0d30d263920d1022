"""The "add to calendar" file: parsed back with icalendar, its times are the campus's wall
clock in the campus's zone, winter and summer, in Arizona (no daylight saving) and Chicago."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from portal.audit.models import AuditEvent
from portal.organization.models import Campus
from portal.scheduling.ics import calendar_for
from portal.scheduling.models import Appointment, VisitType
from portal.scheduling.tests.support import SchedulingWorld, phoenix_campus, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def phoenix() -> Campus:
    return phoenix_campus()


def appointment_at(
    sw: SchedulingWorld, campus: Campus, starts_at: dt.datetime, visit_type: VisitType | None = None
) -> Appointment:
    visit_type = visit_type or sw.follow_up
    return Appointment.objects.create(
        patient=sw.world.alice,
        visit_type=visit_type,
        practitioner=sw.clinician,
        campus=campus,
        department=sw.department,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
        mode=visit_type.mode,
    )


def parsed(client: Client, appointment: Appointment) -> Calendar:
    response = client.get(reverse("appointments:ics", args=[appointment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="appointment-')
    assert response["Content-Disposition"].endswith('.ics"')
    return Calendar.from_ical(response.content)


# (zone, UTC instant of the visit, the campus's wall-clock start it must show)
CASES = [
    ("America/Phoenix", dt.datetime(2027, 1, 12, 16, 0, tzinfo=UTC), "20270112T090000"),
    ("America/Phoenix", dt.datetime(2027, 7, 13, 16, 0, tzinfo=UTC), "20270713T090000"),
    ("America/Chicago", dt.datetime(2027, 1, 12, 15, 0, tzinfo=UTC), "20270112T090000"),
    ("America/Chicago", dt.datetime(2027, 7, 13, 14, 0, tzinfo=UTC), "20270713T090000"),
]


@pytest.mark.parametrize(("zone", "instant", "wall_clock"), CASES)
def test_times_are_the_campus_wall_clock_in_its_zone(
    client: Client, sw: SchedulingWorld, zone: str, instant: dt.datetime, wall_clock: str
) -> None:
    campus = phoenix() if zone == "America/Phoenix" else sw.world.campus
    appointment = appointment_at(sw, campus, instant)
    client.force_login(sw.world.alice_user)
    calendar = parsed(client, appointment)
    text = calendar.to_ical().decode()
    assert f"DTSTART;TZID={zone}:{wall_clock}" in text
    (event,) = calendar.events
    assert isinstance(event.start, dt.datetime) and isinstance(event.end, dt.datetime)
    assert str(event.start.tzinfo) == zone
    assert event.start.strftime("%Y%m%dT%H%M%S") == wall_clock
    assert event.start == instant
    assert event.end - event.start == dt.timedelta(minutes=30)
    (vtimezone,) = calendar.timezones
    assert vtimezone.tz_name == zone
    # The VTIMEZONE itself gives the wall clock the campus's offset on that day.
    assert instant.astimezone(vtimezone.to_tz()).strftime("%Y%m%dT%H%M%S") == wall_clock


def test_the_event_says_what_where_and_with_whom(client: Client, sw: SchedulingWorld) -> None:
    sw.follow_up.preparation = "Bring your medicines."
    sw.follow_up.save()
    appointment = appointment_at(sw, sw.world.campus, dt.datetime(2027, 3, 2, 15, 0, tzinfo=UTC))
    client.force_login(sw.world.alice_user)
    (event,) = parsed(client, appointment).events
    assert event.uid.startswith(f"appointment-{appointment.pk}@")
    assert event.stamp is not None and event.stamp.tzinfo is not None
    assert event.summary == "Follow-up visit (Rochester)"
    assert event.location == "200 First Street SW, Rochester, MN 55905"
    description = event.description or ""
    assert "Dr. Carol Staff" in description
    assert "507-555-0101" in description
    assert "Bring your medicines." in description
    assert event.status == "CONFIRMED"
    assert AuditEvent.objects.filter(action="appointment.calendar", object_id=str(appointment.pk)).exists()


def test_a_video_visit_and_a_cancelled_one(sw: SchedulingWorld) -> None:
    appointment = appointment_at(sw, sw.world.campus, dt.datetime(2027, 3, 2, 15, 0, tzinfo=UTC), sw.video)
    (event,) = calendar_for(appointment, "example.org").events
    assert event.location == "Video visit"
    assert "15 minutes before" in (event.description or "")
    appointment.status = Appointment.Status.CANCELLED
    (cancelled,) = calendar_for(appointment, "example.org").events
    assert cancelled.status == "CANCELLED"
    assert cancelled.uid == event.uid
    assert cancelled.sequence > event.sequence


def test_only_those_who_may_see_the_visit_download_it(client: Client, sw: SchedulingWorld) -> None:
    appointment = appointment_at(sw, sw.world.campus, dt.datetime(2027, 3, 2, 15, 0, tzinfo=UTC))
    url = reverse("appointments:ics", args=[appointment.pk])
    client.force_login(sw.world.proxy_user)  # view scope is enough to read it
    assert client.get(url).status_code == 200
    client.force_login(sw.world.bob_user)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 405
