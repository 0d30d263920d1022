"""Pre-check-in in the browser: done across two sittings (signed in again in between), every
step checked with axe at desktop and phone width; and the desk's view of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import Coverage
from portal.records.tests.support import make_allergy, make_medication
from portal.scheduling.models import PreCheckIn
from portal.scheduling.tests.support import scheduling_world
from portal.scheduling.tests.test_checkin import add_forms, visit
from portal.scheduling.tests.test_coverage import jpeg_with_exif
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
    check_page(page)


def test_pre_check_in_over_two_sittings(
    page: Page, context: BrowserContext, world: World, log_in: LogIn
) -> None:
    sw = scheduling_world(world)
    add_forms(sw)
    make_medication(world.alice)
    make_allergy(world.alice)
    appointment = visit(sw)
    start = f"/appointments/check-in/{appointment.pk}/"

    log_in(world.alice_user)
    page.goto(start)
    heading(page, "Pre-check-in")
    expect(page.get_by_text("0 of 6 steps done.")).to_be_visible()
    page.get_by_role("link", name="Start pre-check-in").click()
    heading(page, "Confirm your details")
    expect(page.locator("#main dl").get_by_text("Alice Able")).to_be_visible()
    page.get_by_role("button", name="These are correct").click()
    heading(page, "Review your medications")
    expect(page.get_by_text("Lisinopril")).to_be_visible()
    page.get_by_label("What has changed?").fill("I stopped taking aspirin.")
    page.get_by_role("button", name="Send what has changed").click()
    heading(page, "Review your allergies")

    # The second sitting: a new session, as after closing the browser.
    context.clear_cookies()
    log_in(world.alice_user)
    page.goto(start)
    heading(page, "Pre-check-in")
    expect(page.get_by_text("2 of 6 steps done.")).to_be_visible()
    page.get_by_role("link", name="Continue where you left off").click()
    heading(page, "Review your allergies")
    expect(page.get_by_text("Penicillin")).to_be_visible()
    page.get_by_role("button", name="This list is right").click()

    heading(page, "Check your insurance")
    page.get_by_role("link", name="Add your insurance").click()
    heading(page, "Add your insurance")
    page.get_by_role("button", name="Save insurance").click()
    heading(page, "Add your insurance")  # errors shown, nothing saved
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    page.get_by_label("Insurance company").fill("Acme Health")
    page.get_by_label("Member ID").fill("XY123456789")
    page.get_by_label("Policyholder's full name").fill("Alice Able")
    page.get_by_label("Photo of the front of the card").set_input_files(
        {"name": "front.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_exif()}
    )
    page.get_by_role("button", name="Save insurance").click()

    heading(page, "Health check")
    page.get_by_role("group", name="Do you smoke?").get_by_label("No").check()
    page.get_by_role("button", name="Save and finish later").click()
    heading(page, "Pre-check-in")
    expect(page.get_by_text("Your answers are saved.")).to_be_visible()
    page.get_by_role("link", name="Continue where you left off").click()
    heading(page, "Health check")
    expect(page.get_by_role("group", name="Do you smoke?").get_by_label("No")).to_be_checked()
    page.get_by_role("button", name="Submit").click()
    heading(page, "Health check")  # the required question is still unanswered
    page.get_by_label("Why are you coming in?").fill("A check-up")
    page.get_by_role("button", name="Submit").click()

    heading(page, "Consent to treatment")
    page.get_by_label("Type your full name to sign").fill("Alice Able")
    page.get_by_label("I have read this form and I agree").check()
    page.get_by_role("button", name="Sign", exact=True).click()

    heading(page, "Pre-check-in")
    expect(page.get_by_role("heading", name="Pre-check-in complete")).to_be_visible()
    row = PreCheckIn.objects.get(appointment=appointment)
    assert row.completed_at is not None
    assert row.medication_changes == "I stopped taking aspirin."
    assert Coverage.objects.get().status == Coverage.Status.PENDING


def test_the_desk_reads_a_pre_check_in(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    add_forms(sw)
    appointment = visit(sw)
    log_in(world.scheduler)
    page.goto(f"/appointments/check-in/{appointment.pk}/staff/")
    heading(page, "Pre-check-in: Alice Able")
    expect(page.get_by_text("No insurance on file.")).to_be_visible()


def test_before_the_window_the_page_says_when(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    appointment = visit(sw, days_ahead=30)
    log_in(world.alice_user)
    page.goto(f"/appointments/check-in/{appointment.pk}/")
    heading(page, "Pre-check-in")
    expect(page.get_by_text("Pre-check-in for this visit opens on")).to_be_visible()
