"""Correction requests end to end: the patient asks, a clinician answers in a second browser, the
patient reads the answer; and the staff record pages (held results, entering and correcting)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from portal.accounts.models import User
from portal.browser_tests.conftest import (
    DESKTOP,
    TIMEOUT_MS,
    LogIn,
    Problems,
    _note_console,
    _problems,
    check_page,
)
from portal.records.models import AmendmentRequest, ReleaseHoldRule, ResultReport
from portal.records.tests.support import make_medication, make_note, make_panel
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.fixture
def second_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A page in a browser context of its own, for a second person signed in at the same time."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=AXE_SCRIPT)
    page = context.new_page()
    problems = Problems()
    page.on("console", lambda message: _note_console(page, problems, message))
    page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error.message}"))
    _problems[page] = problems
    yield page
    leftover = problems.take()
    context.close()
    if leftover:
        raise AssertionError("The browser logged errors after the last check:\n" + "\n".join(leftover))


def sign_in(page: Page, user: User, live_server: Any) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def test_a_patient_asks_for_a_correction_and_reads_the_answer(
    page: Page, second_page: Page, world: World, log_in: LogIn, live_server: Any
) -> None:
    make_medication(world.alice, "Lisinopril", dose="10 mg tablet")
    log_in(world.alice_user)
    page.goto("/record/medications/")
    check_page(page)
    page.get_by_role("link", name=re.compile(r"This looks wrong.*Lisinopril")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask for a correction")
    expect(page.get_by_text("Lisinopril 10 mg tablet")).to_be_visible()
    check_page(page)

    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text("Tell us what looks wrong.")
    expect(page.get_by_label("What looks wrong?")).to_have_attribute("aria-invalid", "true")
    check_page(page)

    page.get_by_label("What looks wrong?").fill("I stopped taking this in March.")
    page.get_by_label("What should it say?").fill("Stopped in March 2026")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("status")).to_contain_text("within 60 days")
    expect(page.get_by_text("Waiting for review", exact=True)).to_be_visible()
    check_page(page)
    page.goto("/record/corrections/")
    expect(page.get_by_role("link", name="Lisinopril 10 mg tablet")).to_be_visible()
    check_page(page)

    sign_in(second_page, world.clinician, live_server)
    second_page.goto("/staff/records/amendments/")
    expect(second_page.get_by_role("heading", level=1)).to_have_text("Correction requests")
    check_page(second_page)
    second_page.get_by_role("link", name="Lisinopril 10 mg tablet").click()
    expect(second_page.get_by_text("I stopped taking this in March.")).to_be_visible()
    check_page(second_page)
    second_page.get_by_role("button", name="Deny request").click()
    expect(second_page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(second_page)
    second_page.get_by_label("Reason for not changing the record").fill(
        "Your pharmacy filled it on 1 October; please call us if that is a mistake."
    )
    second_page.get_by_role("button", name="Deny request").click()
    expect(second_page.get_by_role("status")).to_contain_text("Answered")
    expect(second_page.get_by_text("No correction requests are waiting.")).to_be_visible()
    check_page(second_page)

    page.reload()
    expect(page.get_by_role("link", name="Lisinopril 10 mg tablet")).to_be_visible()
    page.get_by_role("link", name="Lisinopril 10 mg tablet").click()
    expect(page.get_by_text("Not changed")).to_be_visible()
    expect(page.get_by_text("Your pharmacy filled it on 1 October")).to_be_visible()
    expect(page.get_by_role("link", name="Send a statement of disagreement")).to_be_visible()
    check_page(page)
    assert AmendmentRequest.objects.get().status == AmendmentRequest.Status.DENIED


def test_a_clinician_releases_enters_and_corrects_results(page: Page, world: World, log_in: LogIn) -> None:
    make_panel(
        world.alice,
        "Thyroid panel",
        available_at=timezone.now() + dt.timedelta(hours=24),
        hold_reason="Clinician review first",
    )
    make_note(world.alice, "Follow-up visit")
    log_in(world.clinician)
    page.goto(f"/staff/patients/{world.alice.pk}/")
    page.get_by_role("link", name=re.compile("Open the health record")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health record: Alice Able")
    expect(page.get_by_text("Held until", exact=False)).to_be_visible()
    check_page(page)

    page.goto("/staff/records/held/")
    expect(page.get_by_role("link", name="Thyroid panel")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name=re.compile(r"^Release now\s*: Thyroid panel$")).click()
    expect(page.get_by_role("status")).to_contain_text("Released")
    expect(page.get_by_text("No results are held.")).to_be_visible()
    check_page(page)

    page.goto(f"/staff/records/patients/{world.alice.pk}/results/new/")
    check_page(page)
    page.get_by_role("button", name="Save result").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)
    page.get_by_label("Name of the test or panel").fill("Glucose, fasting")
    now = timezone.localtime(timezone.now() - dt.timedelta(hours=2), ZoneInfo(world.campus.time_zone))
    page.get_by_label("Collected").fill(now.strftime("%Y-%m-%dT%H:%M"))
    first = page.get_by_role("group", name="Value 1", exact=True)
    first.get_by_label("LOINC code").fill("2345-7")
    first.get_by_label("Test").fill("Glucose")
    first.get_by_label("Value").fill("131")
    first.get_by_label("Unit").fill("mg/dL")
    first.get_by_label("Range low").fill("70")
    first.get_by_label("Range high").fill("99")
    page.get_by_role("button", name="Save result").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Glucose, fasting")
    expect(page.get_by_role("cell", name="High")).to_be_visible()
    check_page(page)

    page.get_by_role("link", name=re.compile(r"^Correct\s+Glucose$")).click()
    check_page(page)
    page.get_by_label("Value", exact=True).fill("113")
    page.get_by_label("Reason for the correction").fill("Transcription error")
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_role("heading", name="Earlier values of Glucose")).to_be_visible()
    expect(page.get_by_text("Transcription error")).to_be_visible()
    check_page(page)
    assert ResultReport.objects.get(name="Glucose, fasting").status == ResultReport.Status.CORRECTED

    page.goto(f"/staff/records/patients/{world.alice.pk}/")
    page.get_by_role("link", name=re.compile(r"^Correct\s+Follow-up visit$")).click()
    check_page(page)


def test_an_administrator_sets_a_hold_rule(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.admin)
    page.goto("/staff/records/hold-rules/")
    expect(page.get_by_text("No rules: every result is released to the patient at once.")).to_be_visible()
    check_page(page)
    page.get_by_label("Type of result", exact=True).select_option("pathology")
    page.get_by_label("Hold for (hours)").fill("100")
    page.get_by_label("Reason for the hold").fill("Short")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_page(page)
    page.get_by_label("Hold for (hours)").fill("48")
    page.get_by_label("Reason for the hold").fill("The surgeon explains biopsy results first.")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status")).to_contain_text("Hold rule saved")
    check_page(page)
    assert ReleaseHoldRule.objects.get().hold_hours == 48
