"""The installable app offline, in Chromium: the shell and the saved summary, and nothing else.

Playwright's `set_offline` does not reach a service worker's own requests, so `go_offline`
also aborts every request the worker makes, as a phone without a signal would.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.records.tests.support import make_medication, make_panel
from portal.test import World

pytestmark = [pytest.mark.browser, pytest.mark.service_workers]

SUMMARY = "/record/download/print/?sections=results&sections=medications"
HEALTH_CACHES = (
    "caches.keys().then((names) => names.filter((name) => name.startsWith('portal-health-summary-')))"
)
EVERY_CACHED_URL = """caches.keys().then((names) => Promise.all(names.map((name) =>
    caches.open(name).then((cache) => cache.keys()).then((requests) => requests.map((r) => name + ' ' + r.url)))))
    .then((lists) => lists.flat())"""


@pytest.fixture
def record(world: World) -> World:
    make_panel(world.alice)
    make_medication(world.alice)
    return world


def _abort_worker_requests(route: Route) -> None:
    if route.request.service_worker is not None:
        route.abort("internetdisconnected")
    else:
        route.continue_()


def go_offline(context: BrowserContext) -> None:
    context.set_offline(True)
    context.route("**/*", _abort_worker_requests)


def go_online(context: BrowserContext) -> None:
    context.unroute("**/*", _abort_worker_requests)
    context.set_offline(False)


def wait_for_worker(page: Page) -> None:
    """Until the worker is active and its shell cached, so the next page is controlled."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def test_the_saved_summary_is_readable_offline_and_sign_out_deletes_it(
    page: Page, context: BrowserContext, record: World, log_in: LogIn, live_server: Any
) -> None:
    log_in(record.alice_user)
    page.goto("/")
    wait_for_worker(page)
    page.goto(SUMMARY)
    expect(page.get_by_role("heading", level=1)).to_have_text("Health record of Alice Able")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert page.evaluate(HEALTH_CACHES) == []
    page.get_by_role("button", name="Keep a copy on this device for offline use").click()
    expect(page.get_by_role("status").filter(has_text="Saved on this device")).to_be_visible()
    expect(page.get_by_role("button", name="Delete the copy on this device")).to_be_visible()
    check_page(page)
    health = page.evaluate(HEALTH_CACHES)
    assert len(health) == 1
    cached = page.evaluate(EVERY_CACHED_URL)
    # Besides the shell, exactly one health item: the copy the patient asked for.
    assert [url for url in cached if "portal-shell-" not in url] == [
        f"{health[0]} {live_server.url}/offline/saved-summary"
    ]

    go_offline(context)
    page.goto("/record/")  # never saved: the offline page stands in, with the saved copy
    expect(page.get_by_role("heading", level=1)).to_have_text("You are offline")
    expect(page.get_by_role("heading", name="Your saved health summary")).to_be_visible()
    expect(page.get_by_role("cell", name="98 mg/dL")).to_be_visible()
    expect(page.get_by_text("Lisinopril").first).to_be_visible()
    assert "Results" not in (page.title() or "")
    check_page(page)

    go_online(context)
    page.goto("/")
    # A cache no script of ours deletes: only the sign-out's Clear-Site-Data can.
    page.evaluate("caches.open('marker').then(() => true)")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert "marker" not in page.evaluate("caches.keys()")
    assert page.evaluate(HEALTH_CACHES) == []
    wait_for_worker(page)  # the sign-in page registers a fresh worker
    go_offline(context)
    page.goto("/record/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are offline")
    expect(page.get_by_text("There is no health summary saved on this device")).to_be_visible()
    assert page.evaluate(HEALTH_CACHES) == []
    check_page(page)


def test_a_signed_out_visit_stores_no_health_data(page: Page, context: BrowserContext) -> None:
    page.goto("/accounts/login/")
    wait_for_worker(page)
    page.goto("/offline/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are offline")
    check_page(page)
    cached = page.evaluate(EVERY_CACHED_URL)
    assert cached and all(" " in url and url.split(" ")[0].startswith("portal-shell-") for url in cached)
    assert page.evaluate(HEALTH_CACHES) == []


def test_a_session_that_ends_without_signing_out_takes_the_copy_with_it(
    page: Page, context: BrowserContext, record: World, log_in: LogIn
) -> None:
    log_in(record.alice_user)
    page.goto(SUMMARY)
    page.get_by_role("button", name="Keep a copy on this device for offline use").click()
    expect(page.get_by_role("button", name="Delete the copy on this device")).to_be_visible()
    assert len(page.evaluate(HEALTH_CACHES)) == 1
    context.clear_cookies()  # the session ended (timed out, or ended from another device)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    # The sign-in page's script deletes it (no Clear-Site-Data here: nobody signed out).
    page.wait_for_function(
        "async () => !(await caches.keys()).some((name) => name.startsWith('portal-health-summary-'))"
    )
