from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import Patient
from portal.registration.models import AccessRequest
from portal.registration.tests.personas import make_international_office, make_newcomer
from portal.test import World

pytestmark = pytest.mark.browser
PASSWORD = "lantern orchard velvet 42"
CODE_IN_EMAIL = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/\S+/")


def _create_account(page: Page, patient: Patient, code: str, username: str) -> None:
    """From the sign-in page to "Check your email", as the patient would."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    check_page(page)

    page.get_by_label("Clinic number").fill(patient.clinic_number)
    page.get_by_label("Legal first name").fill(patient.given_name)
    page.get_by_label("Legal last name").fill(patient.family_name)
    page.get_by_label("Date of birth").fill(patient.birth_date.isoformat())
    page.get_by_label("Email address").fill(f"{username}@example.net")
    # A slip first: the wrong code gets the one generic message, and the code is not kept.
    page.get_by_label("Activation code").fill("ZZZZ-ZZZZ-ZZZZ")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not match those details")
    expect(page.get_by_label("Clinic number")).to_have_value(patient.clinic_number)
    expect(page.get_by_label("Activation code")).to_have_value("")
    check_page(page)

    page.get_by_label("Activation code").fill(code.lower())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your sign-in")
    check_page(page)

    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Password", exact=True)).to_have_accessible_description(
        re.compile("at least 12 characters")
    )
    check_page(page)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.get_by_role("main")).to_contain_text(f"{username}@example.net")
    check_page(page)


def _confirm_and_sign_in(page: Page, username: str, greeting: str, enrol_totp: bool = False) -> None:
    # Not yet: the address is unconfirmed.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))

    confirmations = [message for message in mail.outbox if f"{username}@example.net" in message.to]
    link = CONFIRM_LINK.search(str(confirmations[0].body))
    assert link is not None
    page.goto(link.group(0))
    check_page(page)
    page.get_by_role("main").get_by_role("button", name="Confirm").click()

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if enrol_totp:
        _enrol_totp(page)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(greeting)
    check_page(page)


def _enrol_totp(page: Page) -> None:
    """The clinic requires two-factor: the new patient is guided to set up an app first."""
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/$"))
    check_page(page)
    page.get_by_role("link", name="Set up an authenticator app").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(
        format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    )
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recovery codes")
    check_page(page)
    page.get_by_role("link", name="I have saved my codes: continue").click()


def test_a_new_us_patient_goes_from_a_printed_code_to_the_dashboard(
    page: Page, context: BrowserContext, world: World, log_in: LogIn, settings: Any
) -> None:
    newcomer = make_newcomer(world)
    log_in(world.clinician)
    page.goto("/staff/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registration")
    check_page(page)

    page.get_by_role("link", name="Issue an activation code").click()
    page.get_by_label("Name or clinic number").fill("Newman")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 patient found")).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="Newman, Nina").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Activation codes for Nina Newman")
    check_page(page)
    page.get_by_role("button", name="Issue a code and show the letter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your activation code for the patient portal")
    expect(page.get_by_role("status")).to_contain_text("shown only this once")
    code = page.locator("[data-activation-code]").inner_text().strip()
    assert CODE_IN_EMAIL.fullmatch(code)
    check_page(page)

    page.get_by_role("link", name="Back to the patient's codes").click()
    expect(page.get_by_role("table")).to_contain_text("Active")
    expect(page.get_by_role("main")).not_to_contain_text(code)
    check_page(page)

    context.clear_cookies()
    _create_account(page, newcomer, code, "nina")
    settings.PORTAL_REQUIRE_MFA = True
    _confirm_and_sign_in(page, "nina", "Hello, Nina", enrol_totp=True)


def test_an_international_request_goes_through_the_office_to_an_account(
    page: Page, context: BrowserContext, world: World, log_in: LogIn
) -> None:
    newcomer = make_newcomer(world)
    office, officer = make_international_office()
    world.campus.international_phone = "+1 507-555-0133"
    world.campus.save()

    page.goto("/accounts/login/")
    check_page(page)
    page.get_by_role("link", name="International patients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("International patients")
    expect(page.get_by_role("region", name="International office")).to_contain_text(office.phone)
    check_page(page)

    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)

    page.get_by_label("Legal first name").fill("Nina")
    page.get_by_label("Legal last name").fill("Newman")
    page.get_by_label("Date of birth").fill("1990-03-04")
    page.get_by_label("Email address").fill("nina@example.net")
    page.get_by_label("Phone number").fill("+44 20 7946 0000")
    page.get_by_label("Street address").fill("21 Wimpole Mews")
    page.get_by_label("City").fill("London")
    page.get_by_label("Country").fill("United Kingdom")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request sent")
    expect(page.get_by_role("main")).to_contain_text("International office")
    check_page(page)

    log_in(officer)
    page.goto("/staff/registration/")
    expect(page.get_by_role("table")).to_contain_text("Newman, Nina")
    check_page(page)
    page.get_by_role("link", name="Newman, Nina").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request from Nina Newman")
    check_page(page)

    page.get_by_role("button", name=f"Match to Nina Newman, {newcomer.clinic_number}").click()
    expect(page.get_by_role("status")).to_contain_text("Matched to Nina Newman")
    check_page(page)
    page.get_by_role("button", name="Email an activation code").click()
    expect(page.get_by_role("status")).to_contain_text("emailed to nina@example.net")
    check_page(page)

    email = next(message for message in mail.outbox if message.to == ["nina@example.net"])
    found = CODE_IN_EMAIL.search(str(email.body))
    assert found is not None and newcomer.clinic_number in str(email.body)

    context.clear_cookies()
    _create_account(page, newcomer, found.group(0), "nina-uk")
    _confirm_and_sign_in(page, "nina-uk", "Hello, Nina")


@pytest.fixture
def page_without_script(browser: Browser, live_server: Any) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, locale="en-US")
    yield context.new_page()
    context.close()


def test_without_javascript_the_security_question_is_answered_by_hand(
    page_without_script: Page, world: World
) -> None:
    page = page_without_script
    page.goto("/register/request/")
    question = page.get_by_label(re.compile(r"^Security question: What is \d plus \d\?$"))
    expect(question).to_be_visible()
    first, second = (
        int(number)
        for number in re.findall(r"\d", page.locator("label[for=id_challenge_answer]").inner_text())
    )
    page.get_by_label("Legal first name").fill("Nina")
    page.get_by_label("Legal last name").fill("Newman")
    page.get_by_label("Date of birth").fill("1990-03-04")
    page.get_by_label("Email address").fill("nina@example.net")
    page.get_by_label("Phone number").fill("507-555-0190")
    page.get_by_label("Street address").fill("12 Elm Street")
    page.get_by_label("City").fill("Rochester")
    page.get_by_label("State").fill("MN")
    page.get_by_label("ZIP code").fill("55902")
    page.get_by_label("Campus where you were seen").select_option(label=world.campus.name)
    question.fill(str(first + second))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request sent")
    assert AccessRequest.objects.filter(family_name="Newman", kind="us").exists()
