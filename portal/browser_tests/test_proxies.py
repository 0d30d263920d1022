"""Proxy access and account maintenance in the browser, every page checked with axe."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from playwright.sync_api import BrowserContext, FilePayload, Page, expect

from portal.accounts.models import User
from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import CareRelationship, Patient
from portal.patients.tests.support import sign_in_recently
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def log_in_recently(context: BrowserContext, live_server: Any) -> LogIn:
    """Sign the browser in as if the user had just typed their password (sensitive pages ask for that)."""

    def log_in_as(user: User) -> None:
        context.clear_cookies()
        client = Client()
        sign_in_recently(client, user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )

    return log_in_as


def _session_cookie(context: BrowserContext) -> str:
    return next(
        cookie["value"] for cookie in context.cookies() if cookie["name"] == settings.SESSION_COOKIE_NAME
    )


def _child(world: World) -> Patient:
    mia = make_patient("10000009", "Mia", "Able", world.campus)
    today = timezone.localdate()
    mia.birth_date = dt.date(today.year - 8, 1, 15)
    mia.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=mia, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    return mia


def test_a_parent_asks_staff_approve_and_the_parent_reaches_the_child(
    page: Page, world: World, log_in_recently: LogIn
) -> None:
    mia = _child(world)
    log_in_recently(world.alice_user)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sharing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sharing your account")
    check_page(page)

    page.get_by_role("link", name="Ask for access to a child's record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask for access to a child's record")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)

    page.get_by_label("Child's clinic number").fill(mia.clinic_number)
    page.get_by_label("Child's first name").fill("Mia")
    page.get_by_label("Child's last name").fill("Able")
    page.get_by_label("Child's date of birth").fill(mia.birth_date.isoformat())
    page.get_by_label("You are the child's").select_option("parent")
    proof: FilePayload = {"name": "birth-certificate.pdf", "mimeType": "application/pdf", "buffer": PDF}
    page.get_by_label("Proof document").set_input_files(files=[proof])
    page.get_by_label(re.compile("^I confirm that I have parental responsibility")).check()
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("status")).to_contain_text("The clinic will check your request")
    expect(page.get_by_text("Waiting for the clinic")).to_be_visible()
    check_page(page)

    log_in_recently(world.clinician)
    page.goto("/staff/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Proxy requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Proxy requests")
    check_page(page)
    page.get_by_role("link", name="Mia Able").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request to act for Mia Able")
    expect(page.get_by_role("link", name=re.compile("^Download the proof document"))).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Approve request").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_text("No requests are waiting.")).to_be_visible()
    check_page(page)

    log_in_recently(world.alice_user)
    page.goto("/")
    switcher = page.get_by_label("Switch to")
    switcher.select_option(label="Mia Able")
    page.get_by_role("button", name="Switch", exact=True).click()
    context_bar = page.get_by_role("region", name="Whose account you are viewing")
    expect(context_bar).to_contain_text("Viewing Mia Able's account (you are: Parent or guardian)")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice. You are viewing Mia's account.")
    check_page(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sharing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your access to Mia Able's account")
    expect(context_bar).to_contain_text("Mia Able")
    check_page(page)


def test_a_patient_invites_a_proxy_then_revokes_them(
    page: Page, context: BrowserContext, live_server: Any, world: World, log_in_recently: LogIn
) -> None:
    sasha = make_user("sasha", first_name="Sasha", last_name="Able")
    log_in_recently(world.alice_user)
    page.goto("/proxies/")
    page.get_by_role("link", name="Invite someone").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invite someone to act for you")
    check_page(page)
    page.get_by_label("Their name").fill("Sasha Able")
    page.get_by_label("Their email address").fill("sasha@example.org")
    page.get_by_label("They are your").select_option("spouse")
    page.get_by_label("Manage appointments").check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("We have emailed an invitation to sasha@example.org")
    expect(page.get_by_role("region", name="Invitations waiting for a reply")).to_contain_text("Sasha Able")
    check_page(page)
    patient_session = _session_cookie(context)

    match = re.search(r"https?://[^/\s]+(/proxies/invitations/accept/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    context.clear_cookies()
    page.goto(match.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to answer your invitation")
    check_page(page)

    log_in_recently(sasha)
    page.goto(match.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Act for Alice Able?")
    check_page(page)
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("You can now act for Alice Able.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Hello, Sasha. You are viewing Alice's account."
    )
    check_page(page)
    proxy_session = _session_cookie(context)

    context.clear_cookies()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": patient_session, "url": live_server.url}]
    )
    page.goto("/proxies/")
    proxies = page.get_by_role("region", name="People who can act for you")
    expect(proxies).to_contain_text("Sasha Able")
    expect(proxies).to_contain_text("See health record, Manage appointments")
    check_page(page)
    page.get_by_role("button", name=re.compile(r"^Remove access\s*: Sasha Able$")).click()
    expect(page.get_by_role("status")).to_contain_text("Sasha Able can no longer use your account.")
    expect(proxies).not_to_contain_text("Sasha Able")
    check_page(page)

    # The proxy's own session, unchanged, on its very next request.
    context.clear_cookies()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": proxy_session, "url": live_server.url}]
    )
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your account is not linked to a patient record yet"
    )
    expect(page.get_by_text("Alice")).to_have_count(0)
    check_page(page)


def test_a_patient_edits_their_details(page: Page, world: World, log_in_recently: LogIn) -> None:
    log_in_recently(world.alice_user)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My details")
    check_page(page)

    page.get_by_role("link", name="Change phone numbers or address").click()
    page.get_by_label("Mobile phone").fill("call me")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_contain_text("Mobile phone: Enter a phone number")
    expect(page.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")
    check_page(page)
    page.get_by_label("Mobile phone").fill("507-555-0199")
    page.get_by_label("Street address").fill("1 Main Street")
    page.get_by_label("City or town").fill("Rochester")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Your contact details are updated.")
    expect(page.get_by_role("region", name="Contact details")).to_contain_text("507-555-0199")
    check_page(page)

    page.get_by_role("link", name="Change how we contact you").click()
    page.get_by_label("Send me text messages").check()
    page.get_by_label(re.compile("^I agree to receive text messages")).check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text(re.compile("Text messages: on, to 507-555-0199"))).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="Change email address").click()
    page.get_by_label("New email address").fill("alice.new@example.org")
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.get_by_role("status")).to_contain_text("We sent a link to alice.new@example.org")
    expect(page.get_by_text("Waiting for you to confirm alice.new@example.org")).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="Change preferred language").click()
    check_page(page)
    page.get_by_label("Preferred language").select_option("es")
    page.get_by_role("button", name="Save language").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check_page(page)

    log_in_recently(world.clinician)  # and back to English: the language cookie goes too
    page.goto(f"/staff/patients/{world.alice.pk}/")
    changes = page.get_by_role("region", name="Recent changes")
    expect(changes).to_contain_text("507-555-0199")
    check_page(page)
