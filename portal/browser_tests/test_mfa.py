"""Two-factor sign-in in a real browser: enrolling an authenticator app, registering a
passkey with Chromium's virtual authenticator and signing in with it (as a second factor
and without a password), the idle-timeout warning, and the account pages' accessibility.

WebAuthn refuses IP addresses as relying-party IDs, so these tests browse the live
server as http://localhost (a secure context, like 127.0.0.1) instead of by address.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from axe_playwright_python.base import AXE_SCRIPT
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.accounts.tests.helpers import enable_totp, verify_email
from portal.browser_tests.conftest import DESKTOP, TIMEOUT_MS, check_page
from portal.test import PASSWORD, World

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    base_url = live_server.url.replace("127.0.0.1", "localhost")
    new_context = browser.new_context(base_url=base_url, viewport=DESKTOP, locale="en-US")
    new_context.set_default_timeout(TIMEOUT_MS)
    new_context.add_init_script(script=AXE_SCRIPT)
    yield new_context
    new_context.close()


@pytest.fixture
def authenticator(page: Page) -> Iterator[str]:
    """A platform authenticator that holds passkeys and always verifies the user."""
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    added = session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield added["authenticatorId"]
    session.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]})


def _sign_in(page: Page, username: str = "alice", password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_a_patient_enrols_an_authenticator_app_and_signs_in_with_it(
    page: Page, world: World, settings: Any
) -> None:
    settings.PORTAL_REQUIRE_MFA = True
    verify_email(world.alice_user)
    _sign_in(page)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    check_page(page)

    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up an authenticator app")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    check_page(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill("123")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)
    page.get_by_label("Code from your authenticator app").fill(_code(secret))
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Recovery codes")
    expect(page.get_by_role("list", name="Unused recovery codes").get_by_role("listitem")).to_have_count(10)
    check_page(page)
    page.get_by_role("link", name="I have saved my codes: continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    check_page(page)

    _sign_out(page)
    cache.clear()  # the code just used may not be used again within its 30 seconds
    _sign_in(page)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    check_page(page)
    page.get_by_label("Code from your authenticator app").fill(_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")


def test_a_patient_registers_a_passkey_and_signs_in_with_it(
    page: Page, world: World, authenticator: str
) -> None:
    verify_email(world.alice_user)
    _sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    page.get_by_role("link", name="Account and security").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account and security")
    check_page(page)

    page.get_by_role("link", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey")
    check_page(page)
    expect(page.get_by_label("Also use this passkey to sign in without a password")).to_be_checked()
    page.get_by_label("Name for this passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recovery codes")
    check_page(page)
    passkey = Authenticator.objects.get(user=world.alice_user, type=Authenticator.Type.WEBAUTHN)
    assert passkey.wrap().name == "Test laptop"
    assert passkey.wrap().is_passwordless

    page.goto("/accounts/2fa/webauthn/")
    expect(page.get_by_role("link", name="Remove Test laptop")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Rename Test laptop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rename passkey")
    check_page(page)
    page.go_back()
    page.get_by_role("link", name="Remove Test laptop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove passkey")
    check_page(page)
    page.goto("/accounts/2fa/webauthn/reauthenticate/?next=/accounts/security/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    check_page(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account and security")

    # As a second factor: the password first, then the passkey.
    _sign_out(page)
    _sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    check_page(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")

    # Without a password at all.
    _sign_out(page)
    check_page(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    check_page(page)


def test_a_cancelled_passkey_says_so_and_the_password_still_works(page: Page, world: World) -> None:
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    verify_email(world.alice_user)
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Use a passkey").click()  # this authenticator holds no passkey
    expect(page.get_by_role("alert")).to_contain_text("No passkey was used")
    check_page(page)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")


def test_the_idle_warning_can_keep_the_session_going(page: Page, world: World, settings: Any) -> None:
    settings.PORTAL_IDLE_TIMEOUT_MINUTES = 1
    settings.PORTAL_IDLE_WARNING_SECONDS = 55
    verify_email(world.alice_user)
    _sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    expect(dialog).to_be_visible(timeout=15_000)
    expect(dialog.get_by_role("button", name="Stay signed in")).to_be_focused()
    check_page(page)
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")


def test_the_recovery_and_account_pages_are_accessible(page: Page, world: World) -> None:
    verify_email(world.alice_user)
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your username?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Forgot your username?")
    check_page(page)
    page.get_by_label("Email address").fill("alice@example.org")
    page.get_by_role("button", name="Email me my username").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check_page(page)

    page.goto("/accounts/password/reset/")
    check_page(page)
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check_page(page)

    _sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    for path, heading in [
        ("/accounts/security/", "Account and security"),
        ("/accounts/two-factor/setup/", "Set up two-factor sign-in"),
        ("/accounts/password/change/", "Change password"),
        ("/accounts/email/", "Email addresses"),
        ("/accounts/sessions/", "Where you are signed in"),
        ("/accounts/2fa/", "Two-factor sign-in"),
        ("/accounts/reauthenticate/", "Confirm it is you"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        check_page(page)


def test_the_other_sign_in_pages_are_accessible(page: Page, world: World) -> None:
    for path, heading in [
        ("/accounts/password/reset/key/zz-nonsense/", "This link does not work"),
        ("/accounts/password/reset/key/done/", "Password changed"),
        ("/accounts/inactive/", "This account is not active"),
        ("/accounts/signup/", "Sign-up is closed"),
        ("/accounts/confirm-email/", "Confirm your email address"),
        ("/accounts/confirm-email/nonsense/", "Confirm your email address"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        check_page(page)


def test_the_two_factor_management_pages_are_accessible(page: Page, world: World) -> None:
    verify_email(world.alice_user)
    secret = enable_totp(world.alice_user)
    _sign_in(page)
    page.get_by_label("Code from your authenticator app").fill(_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    for path, heading in [
        ("/accounts/2fa/", "Two-factor sign-in"),
        ("/accounts/2fa/totp/deactivate/", "Turn off the authenticator app"),
        ("/accounts/2fa/recovery-codes/", "Recovery codes"),
        ("/accounts/2fa/recovery-codes/generate/", "Make new recovery codes"),
        ("/accounts/2fa/reauthenticate/", "Confirm it is you"),
        ("/accounts/two-factor/setup/", "Two-factor sign-in is on"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        check_page(page)
