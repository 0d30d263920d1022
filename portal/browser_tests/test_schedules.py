from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.scheduling.models import ScheduleBlock, ScheduleTemplate
from portal.scheduling.tests.support import scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser


def test_the_desk_adds_a_session_and_blocks_time(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    log_in(world.scheduler)
    page.goto("/staff/schedules/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinicians' schedules")
    check_page(page)

    page.get_by_role("link", name=sw.clinician.display_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Schedule of {sw.clinician.display_name}")
    check_page(page)

    page.get_by_role("link", name="Add a session").click()
    check_page(page)
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)

    first_day = timezone.now().date() + dt.timedelta(days=1)
    page.get_by_label("Department").select_option(label=sw.department.name)
    page.get_by_label("First day", exact=True).fill(first_day.isoformat())
    page.get_by_label("Weekday").select_option(str(first_day.weekday()))
    page.get_by_label("Starts (campus time)").fill("09:00")
    page.get_by_label("Ends (campus time)").fill("12:00")
    page.get_by_label("Slot length (minutes)").fill("30")
    page.get_by_label("Follow-up visit").check()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("status")).to_contain_text("slots opened")
    expect(page.get_by_role("cell", name="9:00 AM to 12:00 PM (Central time)", exact=True)).to_be_visible()
    check_page(page)
    template = ScheduleTemplate.objects.get()

    page.get_by_role("link", name="End or shorten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("End or shorten a session")
    check_page(page)
    page.go_back()

    page.get_by_role("link", name="Block time").click()
    check_page(page)
    page.get_by_label("Starts on").fill(first_day.isoformat())
    page.get_by_label("Starts at").fill("08:00")
    page.get_by_label("Ends on").fill(first_day.isoformat())
    page.get_by_label("Ends at").fill("10:00")
    page.get_by_role("button", name="Block this time").click()
    expect(page.get_by_role("status")).to_contain_text("2 open slots closed")  # 9:00 and 9:30
    expect(page.get_by_text("No booked visits fall inside this time.")).to_be_visible()
    check_page(page)
    assert ScheduleBlock.objects.get().practitioner_id == template.practitioner_id

    page.get_by_role("link", name="Back to the schedule").click()
    check_page(page)
    page.get_by_role("link", name="Visit types").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Visit types")
    check_page(page)
    page.get_by_role("link", name="Follow-up visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change Follow-up visit")
    check_page(page)
