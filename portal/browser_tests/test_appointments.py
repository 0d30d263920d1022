"""The patient's appointments in the browser: list, one visit, cancel, the cutoff, a new time,
"running late", and the calendar file. Every page is checked with axe at desktop and phone width."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.scheduling.models import Appointment, PatientNotice
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def test_a_patient_cancels_a_visit(page: Page, sw: SchedulingWorld, log_in: LogIn) -> None:
    sw.follow_up.preparation = "Bring your blood pressure diary."
    sw.follow_up.save()
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 4, 9)), reason="Blood pressure")
    log_in(sw.world.alice_user)
    page.goto("/")
    expect(page.get_by_role("region", name="Upcoming appointments")).to_contain_text("9:00 AM")
    check_page(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Appointments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Appointments")
    upcoming = page.get_by_role("region", name="Upcoming visits")
    expect(upcoming).to_contain_text("(Central time)")
    check_page(page)

    upcoming.get_by_role("link", name="Follow-up visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up visit")
    expect(page.get_by_text("Bring your blood pressure diary.")).to_be_visible()
    expect(page.get_by_role("link", name="507-555-0101")).to_have_attribute("href", "tel:507-555-0101")
    check_page(page)

    page.get_by_role("link", name="Cancel this visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this visit?")
    check_page(page)
    page.get_by_label("Why are you cancelling?").fill("Feeling better")
    page.get_by_role("button", name="Cancel the visit").click()
    expect(page.get_by_role("status").first).to_contain_text("is cancelled")
    expect(page.get_by_role("region", name="Past and cancelled visits")).to_contain_text("Cancelled")
    check_page(page)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_inside_the_cutoff_the_desk_is_the_way(page: Page, sw: SchedulingWorld, log_in: LogIn) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=20)))
    log_in(sw.world.alice_user)
    page.goto(f"/appointments/{appointment.pk}/")
    expect(page.get_by_text(re.compile("too close to the visit to change it online"))).to_be_visible()
    expect(page.get_by_role("link", name="Cancel this visit")).to_have_count(0)
    check_page(page)

    page.get_by_role("radio", name="Running late").check()
    page.get_by_label("How late will you be?").select_option("20")
    page.get_by_role("button", name="Send to the scheduling desk").click()
    expect(page.get_by_role("status").first).to_contain_text("has your message")
    expect(page.get_by_role("region", name="Running late or cannot come?")).to_contain_text("20 minutes")
    check_page(page)
    assert PatientNotice.objects.get(appointment=appointment).minutes_late == 20

    page.goto(f"/appointments/{appointment.pk}/cancel/")
    expect(page.get_by_role("heading", level=1)).to_have_text("This visit cannot be cancelled online")
    expect(page.get_by_role("link", name="507-555-0101")).to_have_attribute("href", "tel:507-555-0101")
    expect(page.get_by_text(re.compile("24 hours before"))).to_be_visible()
    expect(page.get_by_role("button")).not_to_contain_text(["Cancel the visit"])
    check_page(page)


def test_a_patient_moves_a_visit_and_downloads_it(
    page: Page, sw: SchedulingWorld, log_in: LogIn, tmp_path: Path
) -> None:
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 10, 9)))
    make_slot(sw, local_moment(sw.world.campus, 12, 14))
    log_in(sw.world.alice_user)
    page.goto(f"/appointments/{appointment.pk}/")
    page.get_by_role("link", name="Change the time").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new time")
    check_page(page)
    page.get_by_label("Any clinician in Family Medicine").check()
    page.get_by_role("button", name="Show times").click()
    check_page(page)
    page.get_by_role("button", name=re.compile(r"^2:00 PM C[SD]T \(Central time\)")).click()
    expect(page.get_by_role("status").first).to_contain_text("Your visit is now on")
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up visit")
    check_page(page)
    moved = Appointment.objects.get(rescheduled_from=appointment)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Add to calendar").click()
    target = tmp_path / "visit.ics"
    download_info.value.save_as(target)
    calendar = Calendar.from_ical(target.read_bytes())
    (event,) = calendar.events
    assert isinstance(event.start, dt.datetime)
    assert str(event.start.tzinfo) == "America/Chicago"
    assert event.start == moved.starts_at
    assert (event.start.hour, event.start.minute) == (14, 0)
    assert f"DTSTART;TZID=America/Chicago:{event.start:%Y%m%d}T140000" in calendar.to_ical().decode()
