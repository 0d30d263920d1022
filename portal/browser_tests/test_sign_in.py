from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.test import PASSWORD, World

pytestmark = pytest.mark.browser


def _sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _verify_email(world: World) -> None:
    user = world.alice_user
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def test_it_signs_in_through_the_form_and_lands_on_the_dashboard(page: Page, world: World) -> None:
    _verify_email(world)
    _sign_in(page, "alice", PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    check_page(page)


def test_it_shows_an_error_for_a_wrong_password(page: Page, world: World) -> None:
    _sign_in(page, "alice", "not-the-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("not correct")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    check_page(page)

    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(re.compile(r"/accounts/password/reset/$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_page(page)


def test_it_asks_to_verify_an_unverified_email_address(page: Page, world: World) -> None:
    _sign_in(page, "alice", PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    check_page(page)


def test_it_signs_out(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.alice_user)
    page.goto("/")
    check_page(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    check_page(page)
    home = page.request.get("/", max_redirects=0)
    assert home.status == 302 and home.headers["location"].startswith("/accounts/login/")


def test_the_sign_out_confirmation_page_signs_out(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.alice_user)
    page.goto("/accounts/logout/")
    check_page(page)
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    check_page(page)
