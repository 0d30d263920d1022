"""Downloading, printing and sharing the record in the browser, every page checked with axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from portal.audit.actor import Actor
from portal.browser_tests.conftest import (
    DESKTOP,
    TIMEOUT_MS,
    LogIn,
    Problems,
    _note_console,
    _problems,
    check_page,
)
from portal.patients.access import decide
from portal.records.export import Selection
from portal.records.sharing import do_create_share_link
from portal.records.tests.support import days_ago, make_medication, make_panel
from portal.test import PASSWORD, World

pytestmark = pytest.mark.browser


@pytest.fixture
def record(world: World) -> World:
    make_panel(world.alice)
    make_panel(
        world.alice,
        "Held lipid panel",
        values=[("2093-3", "Cholesterol", "240", "mg/dL", "0", "200")],
        available_at=days_ago(-2),
    )
    make_medication(world.alice)
    return world


@pytest.fixture
def stranger(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A page in a fresh browser context: someone who was sent a link and has no account."""
    fresh = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    fresh.set_default_timeout(TIMEOUT_MS)
    fresh.add_init_script(script=AXE_SCRIPT)
    new_page = fresh.new_page()
    problems = Problems()
    new_page.on("console", lambda message: _note_console(new_page, problems, message))
    new_page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error.message}"))
    _problems[new_page] = problems
    yield new_page
    fresh.close()


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_the_patient_downloads_prints_shares_and_revokes(
    page: Page, stranger: Page, record: World, log_in: LogIn
) -> None:
    log_in(record.alice_user)
    page.goto("/record/download/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Download or print your record")
    check_page(page)

    # A bad date range comes back with an error.
    page.get_by_label("From").fill("2024-05-01")
    page.get_by_label("To").fill("2024-04-01")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("The end date must be on or after the start date.")
    check_page(page)

    # Part of the record, to print.
    page.get_by_label("From").fill("")
    page.get_by_label("To").fill("")
    for section in ("Imaging", "Clinical notes", "Allergies", "Immunizations", "Problems and conditions"):
        page.get_by_label(section).uncheck()
    page.get_by_label("Printable page").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health record of Alice Able")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    expect(page.get_by_text("Use your browser's Print command")).to_be_visible()
    expect(page.get_by_role("cell", name="98 mg/dL")).to_be_visible()
    expect(page.get_by_text("Held lipid panel")).to_have_count(0)
    check_page(page)

    # The whole record as a PDF: confirm it is you, then the file arrives.
    page.goto("/record/download/")
    page.get_by_label("PDF", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    check_page(page)
    page.get_by_label("Your password").fill(PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Confirm").click()
    download = download_info.value
    assert re.fullmatch(r"health-record-10000001-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    text = pdf_text(Path(download.path()))
    assert "Alice Able" in text and "Glucose" in text and "98 mg/dL" in text and "Lisinopril" in text
    assert "Cholesterol" not in text

    # A share link (the confirmation a minute ago still counts).
    page.goto("/record/sharing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Share your record with a link")
    check_page(page)
    page.get_by_role("link", name="Make a new link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a link to share your record")
    check_page(page)
    page.get_by_role("button", name="Make the link").click()
    expect(page.get_by_role("alert")).to_contain_text("Say who the link is for.")
    check_page(page)
    page.get_by_label("Who is it for?").fill("Dr Lee, Boston cardiology")
    page.get_by_label("Clinical notes").uncheck()
    page.get_by_label("The link works for").select_option(label="30 days")
    page.get_by_role("button", name="Make the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your link is ready")
    check_page(page)
    address = page.get_by_label("Link for Dr Lee, Boston cardiology").input_value()
    assert re.fullmatch(r"http://[^/]+/shared/[A-Za-z0-9_-]{43}/", address)

    # Someone without an account opens it.
    stranger.goto(address)
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Health record of Alice Able")
    expect(stranger.get_by_role("note", name="About this shared record")).to_contain_text(
        "shared by Alice Able with Dr Lee, Boston cardiology"
    )
    expect(stranger.get_by_role("cell", name="98 mg/dL")).to_be_visible()
    expect(stranger.get_by_text("Held lipid panel")).to_have_count(0)
    check_page(stranger)
    with stranger.expect_download() as shared_download:
        stranger.get_by_role("link", name="Download as PDF").click()
    assert "Lisinopril" in pdf_text(Path(shared_download.value.path()))

    # The patient sees the visits, then revokes the link.
    page.goto("/record/sharing/")
    links = page.get_by_role("region", name="Your links")
    expect(links).to_contain_text("Opened 2 times")
    expect(links).to_contain_text("Active")
    check_page(page)
    page.get_by_role("link", name=re.compile(r"^See every visit\s*: Dr Lee, Boston cardiology$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Link for Dr Lee, Boston cardiology")
    expect(page.get_by_role("region", name="Visits to this link").get_by_role("row")).to_have_count(3)
    check_page(page)
    page.get_by_role("button", name="Revoke this link").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The link for Dr Lee, Boston cardiology no longer works."
    )
    expect(page.get_by_role("region", name="Your links")).to_contain_text("Revoked")
    check_page(page)

    stranger.reload()
    expect(stranger.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    expect(stranger.get_by_text("it may have expired or been revoked")).to_be_visible()
    check_page(stranger)


def test_a_passcode_protected_link(stranger: Page, record: World) -> None:
    access = decide(record.alice_user, record.alice)
    assert access is not None
    _link, token = do_create_share_link(
        Actor(record.alice_user, "127.0.0.1"),
        access,
        recipient="School nurse",
        selection=Selection.of(["medications"], None, None),
        expires_in_days=1,
        passcode="tulip-42",
    )
    stranger.goto(f"/shared/{token}/")
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Type the passcode")
    check_page(stranger)
    stranger.get_by_label("Passcode").fill("tulip-43")
    stranger.get_by_role("button", name="Open").click()
    expect(stranger.get_by_role("alert")).to_contain_text("That passcode is not right.")
    check_page(stranger)
    stranger.get_by_label("Passcode").fill("tulip-42")
    stranger.get_by_role("button", name="Open").click()
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Health record of Alice Able")
    expect(stranger.get_by_role("heading", name="Medications")).to_be_visible()
    expect(stranger.get_by_text("Glucose")).to_have_count(0)
    check_page(stranger)
