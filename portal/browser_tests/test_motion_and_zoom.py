"""Reduced motion and 200% zoom on the key pages.

With "reduce motion" asked for, nothing animates or transitions for longer than 0.01 s
(WCAG 2.3.3). At 200% zoom in a 1280-px window (a 640 x 450 CSS-pixel viewport drawn at
device scale 2) no page scrolls sideways and no control is cut off (WCAG 1.4.4 and 1.4.10);
a wide data table may scroll inside its own box, which reflow allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from portal.browser_tests.conftest import TIMEOUT_MS, sign_in
from portal.browser_tests.test_scheduling_every_page import build as build_scheduling
from portal.test import World

pytestmark = pytest.mark.browser

ZOOMED: ViewportSize = {"width": 640, "height": 450}
LONGEST_MOTION_S = 0.01

PATIENT_PAGES = [
    "/",
    "/appointments/",
    "/appointments/book/",
    "/messages/",
    "/messages/new/",
    "/billing/",
    "/record/",
    "/record/results/",
    "/record/medications/",
    "/profile/",
]
STAFF_PAGES = ["/staff/", "/staff/inbox/", "/staff/desk/", "/staff/schedules/"]
SIGNED_OUT_PAGES = ["/accounts/login/", "/register/"]

# Every element whose animation or transition lasts longer than allowed, and every animation
# the document is running (CSS or script).
MOTION = """(longest) => {
  const seconds = (value) => Math.max(...value.split(',').map((part) => {
    const number = parseFloat(part);
    return part.trim().endsWith('ms') ? number / 1000 : number;
  }));
  const moving = Array.from(document.querySelectorAll('*')).filter((el) => {
    const style = getComputedStyle(el);
    const animated = style.animationName !== 'none' && seconds(style.animationDuration) > longest;
    return animated || seconds(style.transitionDuration) > longest;
  }).map((el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className : ''));
  const running = document.getAnimations().map((animation) => String(animation.animationName || animation.id || 'script'));
  return moving.concat(running).slice(0, 10);
}"""

# Controls that stick out of the viewport or whose text overflows them, outside any box that
# scrolls on its own (a wide table).
CLIPPED = """(width) => Array.from(document.querySelectorAll('a[href],button,input,select,textarea,summary,label'))
  .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
  .filter((el) => {
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return false;
    }
    return true;
  })
  .filter((el) => {
    const box = el.getBoundingClientRect();
    if (el.classList.contains('skip-link') && box.bottom <= 0) return false;  // off screen until focused
    const outside = box.left < -0.5 || box.right > width + 0.5;
    const overflows = ['BUTTON', 'SELECT'].includes(el.tagName) && el.scrollWidth > el.clientWidth + 1;
    return outside || overflows;
  })
  .slice(0, 10)
  .map((el) => el.outerHTML.slice(0, 100) + ' right=' + Math.round(el.getBoundingClientRect().right))"""


@pytest.fixture
def zoomed(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport=ZOOMED,
        device_scale_factor=2,
        locale="en-US",
        reduced_motion="reduce",
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def check_motion_and_zoom(page: Page, paths: list[str]) -> list[str]:
    failures: list[str] = []
    for path in paths:
        response = page.goto(path)
        if response is None or response.status != 200:
            failures.append(f"{path} answered {response.status if response else 'nothing'}")
            continue
        page.wait_for_load_state("load")
        moving = page.evaluate(MOTION, LONGEST_MOTION_S)
        if moving:
            failures.append(f"{path} still moves with reduced motion: {moving}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > ZOOMED["width"]:
            failures.append(f"{path} scrolls sideways at 200% zoom (scrollWidth {width})")
        clipped = page.evaluate(CLIPPED, ZOOMED["width"])
        if clipped:
            failures.append(f"{path} cuts off controls at 200% zoom: {clipped}")
    return failures


def test_key_pages_hold_still_and_reflow_at_200_percent(
    zoomed: BrowserContext, world: World, live_server: Any
) -> None:
    build_scheduling(world)
    page = zoomed.new_page()
    failures = check_motion_and_zoom(page, SIGNED_OUT_PAGES)
    sign_in(zoomed, world.alice_user, live_server.url)
    failures += check_motion_and_zoom(page, PATIENT_PAGES)
    zoomed.clear_cookies()
    sign_in(zoomed, world.scheduler, live_server.url)
    failures += check_motion_and_zoom(page, STAFF_PAGES)
    assert not failures, "\n".join(failures)


def test_the_reduced_motion_rule_is_what_holds_things_still(
    browser: Browser, live_server: Any, world: World
) -> None:
    # Without the preference the portal's transitions run; with it, the stylesheet stops them.
    # This keeps the check above honest: it would see motion if there were any to see.
    context = browser.new_context(base_url=live_server.url, reduced_motion="no-preference")
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        media = page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
        assert media is False
        rules = page.evaluate(
            """() => Array.from(document.styleSheets).flatMap((sheet) => Array.from(sheet.cssRules))
                .filter((rule) => rule.media && rule.media.mediaText.includes('prefers-reduced-motion: reduce'))
                .map((rule) => rule.cssText)"""
        )
        assert any("animation" in rule and "transition" in rule for rule in rules), rules
    finally:
        context.close()
