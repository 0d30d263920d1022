"""The demo's tour on the sign-in page in a real browser: every person's section opens and
the page passes axe at desktop and phone width; a link followed while signed out leads,
after signing in as the person it is written for, to the page it names. And the staff
workspace's folded help opens and passes axe too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.lib.seeding.demo_users import SIGN_INS, create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_mode(settings: Any) -> None:
    settings.PORTAL_DEMO = True


@pytest.mark.usefixtures("demo_mode")
def test_every_section_of_the_tour_opens_and_passes_axe(page: Page) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Who to sign in as, and what to try").click()
    tour = page.get_by_role("region", name="Try the demo")
    expect(tour).to_contain_text(django_settings.DEMO_PASSWORD)
    for sign_in in SIGN_INS:
        summary = tour.locator("summary", has_text=sign_in.username)
        if summary.locator("xpath=..").get_attribute("open") is None:
            summary.click()
        expect(summary.locator("xpath=..")).to_have_attribute("open", "")
    check_page(page)


@pytest.mark.usefixtures("demo_mode")
def test_a_tour_link_leads_there_after_signing_in(page: Page) -> None:
    seed_organization()
    create_demo_users()
    page.goto("/accounts/login/")
    tour = page.get_by_role("region", name="Try the demo")
    tour.get_by_role("link", name="Read test results").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username").fill("demo-patient")
    page.get_by_label("Password").fill(django_settings.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/record/results/$"))
    check_page(page)


@pytest.mark.parametrize(
    ("persona", "path"),
    [
        ("scheduler", "/staff/desk/"),
        ("clinician", "/staff/video/"),
        ("clinician", "/staff/records/held/"),
    ],
)
def test_staff_help_opens_and_passes_axe(
    page: Page, world: World, log_in: LogIn, persona: str, path: str
) -> None:
    log_in(getattr(world, persona))
    page.goto(path)
    help_text = page.locator("details.page-help")
    help_text.locator("summary").click()
    expect(help_text).to_have_attribute("open", "")
    expect(help_text.locator("li").first).to_be_visible()
    check_page(page)
