from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.test import World

pytestmark = pytest.mark.browser


def test_the_clinician_finds_a_patient_and_opens_their_page(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.clinician)
    page.goto("/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff workspace")
    check_page(page)

    page.get_by_label("Name or clinic number").fill("Able")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 patient found")).to_be_visible()
    results = page.get_by_role("table")
    expect(results).to_contain_text("10000001")
    check_page(page)

    results.get_by_role("link", name="Able, Alice").click()
    expect(page).to_have_url(re.compile(rf"/staff/patients/{world.alice.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Alice Able")
    expect(page.get_by_text("10000001")).to_be_visible()
    check_page(page)


def test_an_empty_search_explains_itself(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.clinician)
    page.goto("/staff/?q=")
    expect(page.get_by_role("alert")).to_contain_text("Enter a name, a clinic number or a date of birth.")
    check_page(page)

    page.get_by_label("Name or clinic number").fill("Baker")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="0 patients found")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name="emergency access")).to_be_visible()
    check_page(page)


def test_break_glass_needs_a_reason_then_opens_the_record(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.unassigned_staff)
    page.goto("/staff/break-glass/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergency access (break-glass)")
    check_page(page)

    page.get_by_label("Clinic number").fill("10000002")
    page.get_by_label("Reason for emergency access").fill("Unconscious")
    page.get_by_role("button", name="Open the record").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link")).to_have_count(2)
    reason = page.get_by_label("Reason for emergency access")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_have_accessible_description(re.compile(r"at least 20 characters"))
    confirm = page.get_by_label("I have a legitimate clinical need to see this record now.")
    expect(confirm).to_have_accessible_description("This field is required.")
    check_page(page)

    summary.get_by_role("link", name=re.compile("^Reason for emergency access: ")).click()
    expect(page.get_by_label("Reason for emergency access")).to_be_focused()
    page.get_by_label("Reason for emergency access").fill(
        "Unconscious in the emergency department; need allergies and medications."
    )
    page.get_by_label("I have a legitimate clinical need to see this record now.").check()
    page.get_by_role("button", name="Open the record").click()
    expect(page).to_have_url(re.compile(rf"/staff/patients/{world.bob.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob Baker")
    expect(page.get_by_role("status")).to_contain_text("Emergency access granted")
    expect(page.get_by_text("You are viewing this record with emergency access.")).to_be_visible()
    check_page(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patient search").click()
    expect(page.get_by_role("region", name="Your emergency access")).to_contain_text("Bob Baker")
    check_page(page)


def test_a_patient_outside_the_care_teams_is_not_found(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.clinician)
    response = page.goto(f"/staff/patients/{world.bob.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    check_page(page)
