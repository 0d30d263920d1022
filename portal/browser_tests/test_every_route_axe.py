"""Every GET page route, as every persona who may open it: axe-clean (WCAG 2.2 AA) at desktop
and 360-px phone width, no console errors, no sideways scrolling.

`route_pages` finds the pages by walking the URL resolver and asking the Django test client;
a route it cannot fill or that nobody can open fails here, so a new page is covered (or its
reason to be skipped is written down) the day it is added.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings as django_settings
from playwright.sync_api import Browser, Page

from portal.browser_tests.conftest import DESKTOP, TIMEOUT_MS, check_page, watch_console
from portal.browser_tests.route_pages import (
    ADMIN_SAMPLE,
    PERSONAS,
    SKIPPED,
    Discovery,
    all_routes,
    discover,
    populate,
    signed_in_client,
)
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.mark.long
def test_every_page_route_is_accessible_to_every_persona(
    browser: Browser, live_server: Any, world: World, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    personas = populate(world)
    clients = {persona: signed_in_client(personas[persona]) for persona in PERSONAS}
    found = discover(clients, every_persona=os.environ.get("PORTAL_A11Y_EVERY_PERSONA") == "1")
    assert not found.unfilled, (
        f"{len(found.unfilled)} routes have no page any persona could open: give their URL kwargs a "
        "source in route_pages.KWARG_SOURCES (and the rows), or say in route_pages.SKIPPED why "
        "they are not pages:\n" + "\n".join(found.unfilled)
    )
    failures: list[str] = []
    for persona, client in clients.items():
        failures += _check_pages(browser, live_server.url, client, found.pages[persona], persona)
    print(f"\naxe checked {found.count()} (route, persona) pages over {len(found.routes)} routes")
    assert not failures, f"{len(failures)} of {found.count()} pages failed:\n\n" + "\n\n".join(failures)


def _check_pages(browser: Browser, url: str, client: Any, paths: list[str], persona: str) -> list[str]:
    # One context per persona, sharing the test client's session, so the pages it found are
    # the pages the browser opens.
    context = browser.new_context(base_url=url, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=AXE_SCRIPT)
    session = client.cookies.get(django_settings.SESSION_COOKIE_NAME)
    if session is not None:
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": session.value, "url": url}]
        )
    failures: list[str] = []
    try:
        page = context.new_page()
        watch_console(page)
        for path in paths:
            failure = _check(page, path)
            if failure:
                failures.append(f"[{persona}] {path}:\n{failure}")
    finally:
        context.close()
    return failures


def _check(page: Page, path: str) -> str | None:
    try:
        response = page.goto(path)
        status = response.status if response else None
        if status != 200:
            return f"answered {status} in the browser"
        check_page(page)
    except AssertionError as failure:
        return str(failure)
    return None


def describe(found: Discovery) -> str:
    """A summary for people reading a failure: which routes were found as what."""
    lines = [f"{name}: {', '.join(personas)}" for name, personas in sorted(found.routes.items())]
    lines += [f"{name}: not a page ({what})" for name, what in sorted(found.not_pages.items())]
    return "\n".join(lines)


def test_every_sampled_admin_page_is_still_a_route() -> None:
    """A renamed or unregistered model would otherwise drop out of the admin sample unnoticed."""
    names = {route.name for route in all_routes()}
    assert not set(ADMIN_SAMPLE) - names
    assert not set(SKIPPED) - names, "route_pages.SKIPPED names routes that no longer exist"
