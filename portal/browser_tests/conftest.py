"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

One browser serves the whole session and every test gets a fresh context (cookies,
storage, viewport). Every page a test visits goes through `check_page`, which runs axe
for WCAG 2.2 AA at desktop width and on a 360-px-wide phone, and fails on sideways
scrolling, console errors and Content Security Policy violations.
"""

from __future__ import annotations

import os

# Playwright's sync API keeps an event loop running in this thread, and Django refuses
# database access from a thread with a running loop unless told it is safe. It is: the
# loop only drives the browser.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# The live server listens on the loopback address itself, not on whatever "localhost"
# resolves to first.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

from portal.accounts.models import User

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 740}
TIMEOUT_MS = 10_000

AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
# axe's preload copies each @import-ed stylesheet into a <style> element, which our CSP
# (style-src 'self') blocks with a console error. Django's admin CSS @imports; the portal's
# own CSS does not. The preload feeds only css-orientation-lock (WCAG 1.3.4), which the
# stock admin has no reason to trip, so admin pages are checked without it.
ADMIN_AXE_OPTIONS = {**AXE_OPTIONS, "preload": False}
LogIn = Callable[[User], None]


def chromium_path() -> str:
    return os.environ.get("PORTAL_CHROMIUM") or DEFAULT_CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if not Path(path).is_file():
        message = f"Chromium not found at {path}: browser tests skipped (install Debian's chromium)"
        if os.environ.get("PORTAL_REQUIRE_SERVICES") == "1":
            pytest.fail(
                f"Chromium not found at {path}, and PORTAL_REQUIRE_SERVICES=1 requires the browser "
                "tests to run: install Debian's chromium or point PORTAL_CHROMIUM at a Chromium binary.",
                pytrace=False,
            )
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Problems:
    """What the browser complained about while a test ran."""

    console_errors: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        taken = list(self.console_errors)
        self.console_errors.clear()
        return taken


_problems: weakref.WeakKeyDictionary[Page, Problems] = weakref.WeakKeyDictionary()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts failed sign-ins in the cache, which outlives the test database.
    cache.clear()


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def context(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    # The installable app's service worker would install, and fetch the app shell, in
    # every test's fresh context; only tests marked `service_workers` want it.
    workers: Literal["allow", "block"] = (
        "allow" if request.node.get_closest_marker("service_workers") else "block"
    )
    new_context = browser.new_context(
        base_url=live_server.url, viewport=DESKTOP, locale="en-US", service_workers=workers
    )
    new_context.set_default_timeout(TIMEOUT_MS)
    # axe is sent to the browser once per context and loaded into every document from
    # there, instead of 600 kB over the wire on every check.
    new_context.add_init_script(script=AXE_SCRIPT)
    yield new_context
    new_context.close()


@pytest.fixture
def page(context: BrowserContext, problems: Problems) -> Iterator[Page]:
    new_page = context.new_page()
    watch_console(new_page, problems)
    yield new_page
    leftover = problems.take()
    if leftover:
        raise AssertionError("The browser logged errors after the last check:\n" + "\n".join(leftover))


def watch_console(page: Page, problems: Problems | None = None) -> Problems:
    """Collect the page's console errors for `check_page` (for pages a test opens itself)."""
    problems = problems if problems is not None else Problems()
    page.on("console", lambda message: _note_console(page, problems, message))
    page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error.message}"))
    _problems[page] = problems
    return problems


def _note_console(page: Page, problems: Problems, message: ConsoleMessage) -> None:
    # Chromium reports CSP violations, failed loads and script errors as console errors.
    if message.type != "error":
        return
    url = message.location.get("url", "")
    if message.text.startswith("Failed to load resource") and url == page.url:
        # The page itself answered 4xx, which some tests mean to see (a 403 page, say).
        return
    problems.console_errors.append(f"{message.text} (at {url})" if url else message.text)


@pytest.fixture
def log_in(context: BrowserContext, live_server: Any) -> LogIn:
    """Give the browser a signed-in session without going through the sign-in form."""

    def log_in_as(user: User) -> None:
        sign_in(context, user, live_server.url)

    return log_in_as


def sign_in(context: BrowserContext, user: User, url: str) -> None:
    """Give a browser context (any browser's) a signed-in session for `user` at the server `url`."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": url}])


def check_page(page: Page) -> None:
    """Fail unless the page passes axe at desktop and phone widths with a quiet console."""
    page.wait_for_load_state("load")
    _assert_quiet_console(page)
    original = page.viewport_size or DESKTOP
    try:
        page.set_viewport_size(DESKTOP)
        _assert_accessible(page, "desktop")
        page.set_viewport_size(PHONE)
        _assert_no_sideways_scrolling(page)
        _assert_accessible(page, "360-px phone")
    finally:
        page.set_viewport_size(original)
    _assert_quiet_console(page)


def _assert_quiet_console(page: Page) -> None:
    errors = _problems[page].take()
    if errors:
        raise AssertionError(f"The browser logged errors on {page.url}:\n" + "\n".join(errors))


def _assert_accessible(page: Page, where: str) -> None:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)  # a document opened before the init script was added
    # Only the violations cross back to Python: the full result is large and slow to decode.
    options = ADMIN_AXE_OPTIONS if urlsplit(page.url).path.startswith("/admin/") else AXE_OPTIONS
    violations = page.evaluate(
        "(options) => axe.run(document, options).then((results) => results.violations)", options
    )
    if violations:
        details = "\n".join(_describe(violation) for violation in violations)
        raise AssertionError(f"axe found WCAG 2.2 AA violations on {page.url} ({where}):\n{details}")


def _describe(violation: dict[str, Any]) -> str:
    lines = [f"- {violation['id']} ({violation.get('impact')}): {violation['help']} <{violation['helpUrl']}>"]
    for node in violation["nodes"]:
        target = " ".join(str(part) for part in node["target"])
        summary = " ".join(str(node.get("failureSummary", "")).split())
        lines.append(f"    at {target}: {summary}")
    return "\n".join(lines)


def _assert_no_sideways_scrolling(page: Page) -> None:
    width = PHONE["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width <= width:
        return
    culprits = page.evaluate(
        """(width) => Array.from(document.querySelectorAll('body *'))
            .filter((el) => el.getBoundingClientRect().right > width + 0.5)
            .slice(0, 10)
            .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                 + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
                 + ' right=' + Math.round(el.getBoundingClientRect().right))""",
        width,
    )
    raise AssertionError(
        f"{page.url} scrolls sideways on a {width}-px phone (scrollWidth {scroll_width}); "
        f"too wide: {', '.join(culprits)}"
    )
