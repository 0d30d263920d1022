"""Keyboard only: signing in, booking an appointment, sending a message and paying a bill with
Tab, Shift+Tab, arrow keys, Enter and Space, never the mouse. At every stop the focused
control must show a visible focus indicator and have an accessible name; every page has a
skip link first in the tab order.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.billing.tests.overview_support import billed_statement
from portal.billing.tests.support import billing_world
from portal.browser_tests.conftest import LogIn
from portal.messaging.models import Thread
from portal.messaging.tests.support import messaging_world
from portal.scheduling.models import Appointment
from portal.scheduling.tests.support import local_moment, make_slot, scheduling_world
from portal.test import PASSWORD, World

pytestmark = pytest.mark.browser

NAVIGATION_MS = 30_000  # a loaded CI machine can take longer than the usual 10 s to answer
MOST_STOPS = 80  # more tab stops than any of these pages has before the control it wants

# What the keyboard is on: its role, accessible name (as a screen reader would say it,
# roughly: aria-labelledby, aria-label, label, text, value, title) and whether it shows focus.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const text = (node) => (node ? (node.innerText || node.textContent || '') : '');
  const byIds = (ids) => ids.split(/\\s+/).map((id) => text(document.getElementById(id))).join(' ');
  const name = (el.getAttribute('aria-labelledby') && byIds(el.getAttribute('aria-labelledby')))
    || el.getAttribute('aria-label')
    || (el.labels && el.labels.length ? Array.from(el.labels).map(text).join(' ') : '')
    || text(el) || (el.tagName === 'INPUT' ? el.value : '') || el.getAttribute('title') || '';
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
  return {
    type: el.type || '',
    describe: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.name ? '[name=' + el.name + ']' : ''),
    name: name.replace(/\\s+/g, ' ').trim(),
    shown: outline || shadow,
  };
}"""

# Every control on the page that the keyboard can reach, without an accessible name.
NAMELESS = """() => Array.from(document.querySelectorAll('a[href],button,input,select,textarea,[role=button]'))
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => {
    const labelled = el.getAttribute('aria-labelledby');
    const name = (labelled && labelled.split(/\\s+/).map((id) => document.getElementById(id)?.textContent || '').join(''))
      || el.getAttribute('aria-label') || (el.labels ? Array.from(el.labels).map((l) => l.textContent).join('') : '')
      || el.textContent || el.getAttribute('title') || el.getAttribute('alt')
      || (['submit', 'button', 'reset'].includes(el.type) ? el.value : '')
      || Array.from(el.querySelectorAll('img[alt]')).map((img) => img.alt).join('');
    return !(name || '').trim();
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def focused(page: Page) -> dict[str, Any]:
    where = page.evaluate(FOCUSED)
    assert where is not None, f"focus fell to the page body on {page.url}"
    assert where["shown"], (
        f"{where['describe']} ({where['name']!r}) has focus but no visible outline on {page.url}"
    )
    assert where["name"], f"{where['describe']} has focus but no accessible name on {page.url}"
    return where


def tab_to(page: Page, name: str | re.Pattern[str], backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the control named `name` has focus, checking each stop."""
    # A label may go on with a hint ("Subject (required)"), so a name matches at its start.
    pattern = name if isinstance(name, re.Pattern) else re.compile(f"^{re.escape(name)}\\b")
    seen: list[str] = []
    for _ in range(MOST_STOPS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(FOCUSED) is None:
            raise AssertionError(
                f"Tab left {page.url} without reaching {pattern.pattern!r}; it stopped at {seen}"
            )
        where = focused(page)
        if pattern.search(where["name"]):
            return
        seen.append(where["name"])
    raise AssertionError(f"Tab never reached {pattern.pattern!r} on {page.url}; it stopped at {seen}")


def tab_to_choice(page: Page) -> None:
    """Press Tab until a radio button has focus (the first stop in a group of choices)."""
    for _ in range(MOST_STOPS):
        page.keyboard.press("Tab")
        if focused(page)["type"] == "radio":
            return
    raise AssertionError(f"Tab never reached a choice on {page.url}")


def arrow_to(page: Page, name: str | re.Pattern[str]) -> None:
    """Move through a radio group with the arrow keys (which also choose) to `name`."""
    pattern = name if isinstance(name, re.Pattern) else re.compile(f"^{re.escape(name)}")
    for _ in range(MOST_STOPS):
        if pattern.search(focused(page)["name"]):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never reached {pattern.pattern!r} on {page.url}")


def follow(page: Page) -> None:
    """Press Enter on a link or a submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")


def open_with_skip_link(page: Page, path: str) -> None:
    """Open a page and check that its first tab stop is a working skip link."""
    page.set_default_navigation_timeout(NAVIGATION_MS)
    page.goto(path)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Skip to main content", (
        f"the first tab stop on {path} is not the skip link"
    )
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    assert_every_control_is_named(page)


def assert_every_control_is_named(page: Page) -> None:
    nameless = page.evaluate(NAMELESS)
    assert not nameless, f"controls without an accessible name on {page.url}:\n" + "\n".join(nameless)


def heading(page: Page, text: str | re.Pattern[str]) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
    assert_every_control_is_named(page)


def test_signing_in_with_the_keyboard(page: Page, world: World) -> None:
    open_with_skip_link(page, "/accounts/login/")
    tab_to(page, "Username")
    page.keyboard.type(world.alice_user.username)
    tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    tab_to(page, "Sign in")
    follow(page)
    expect(page).to_have_url(re.compile(r"/$"))
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Skip to main content"
    assert_every_control_is_named(page)


def test_booking_an_appointment_with_the_keyboard(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    make_slot(sw, local_moment(world.campus, 4, 10))
    log_in(world.alice_user)

    open_with_skip_link(page, "/appointments/book/")
    tab_to_choice(page)
    arrow_to(page, "Follow-up visit")
    page.keyboard.press("Space")
    tab_to(page, "Continue")
    follow(page)
    heading(page, "Book an appointment")
    tab_to(page, re.compile("^Rochester, Minnesota"))
    page.keyboard.press("Space")
    tab_to(page, "Continue")
    follow(page)
    tab_to(page, "Show open times")
    follow(page)
    heading(page, "Open times")
    tab_to(page, re.compile(r"10:00 AM C[DS]T"))
    follow(page)
    heading(page, "Confirm your appointment")
    tab_to(page, re.compile("^Reason for the visit"))
    page.keyboard.type("Blood pressure review")
    tab_to(page, "Book this appointment")
    follow(page)

    heading(page, "Follow-up visit")
    expect(page.get_by_text("Your appointment is booked.")).to_be_visible()
    assert Appointment.objects.get(patient=world.alice).reason == "Blood pressure review"


def test_sending_a_message_with_the_keyboard(page: Page, world: World, log_in: LogIn) -> None:
    messaging_world(world)
    log_in(world.alice_user)

    open_with_skip_link(page, "/messages/")
    tab_to(page, "Write a message")
    follow(page)
    tab_to_choice(page)
    arrow_to(page, "Medical question")
    page.keyboard.press("Space")  # Tab only focuses the first choice; Space chooses it
    tab_to(page, "Continue")
    follow(page)
    tab_to(page, "Subject")
    page.keyboard.type("Rash on my arm")
    tab_to(page, "Your message")
    page.keyboard.type("A red rash appeared yesterday.")
    tab_to(page, "Send message")
    follow(page)

    heading(page, "Rash on my arm")
    expect(page.get_by_role("status")).to_contain_text("Your message was sent")
    assert Thread.objects.get(patient=world.alice).subject == "Rash on my arm"


def test_paying_a_bill_with_the_keyboard(page: Page, world: World, log_in: LogIn) -> None:
    billing_world(world)
    statement = billed_statement(world.alice, (250_00, 150_00, 20_00))
    log_in(world.alice_user)

    open_with_skip_link(page, "/billing/")
    tab_to(page, re.compile(f"Statement {statement.number}"))
    follow(page)
    tab_to(page, "Pay this statement")
    follow(page)
    heading(page, "Pay your bill")
    tab_to(page, "Card number")
    page.keyboard.type("4242 4242 4242 4242")
    tab_to(page, "Expiry month")
    page.keyboard.type("12")
    tab_to(page, "Expiry year")
    page.keyboard.type(str(timezone.now().year + 2))
    tab_to(page, "Security code")
    page.keyboard.type("123")
    tab_to(page, "Continue")
    follow(page)
    heading(page, "Check your payment")
    tab_to(page, "Pay $80.00")
    page.keyboard.press("Shift+Tab")  # back and forth: Shift+Tab leaves the button, Tab returns
    focused(page)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Pay $80.00"
    follow(page)

    heading(page, "Payment receipt")
    expect(page.get_by_role("status")).to_contain_text("Paid. Thank you")
