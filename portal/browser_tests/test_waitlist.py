"""Earlier times in the browser: Alice asks for an earlier time, Bob cancels, Alice is
offered his slot and accepts it. Every page is checked with axe at desktop and phone width."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from portal.audit.actor import Actor
from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.access import decide
from portal.scheduling.booking import do_cancel_appointment
from portal.scheduling.models import Appointment, SlotOffer
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser


def test_an_earlier_time_is_offered_and_accepted(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    early = make_slot(sw, local_moment(world.campus, 4, 9))
    bobs = book(sw, early, patient=world.bob)
    alices = book(sw, make_slot(sw, local_moment(world.campus, 30, 14)))

    log_in(world.alice_user)
    page.goto(f"/appointments/earlier/join/{alices.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask for an earlier time")
    expect(page.get_by_text(re.compile(r"\(Central time\)"))).to_be_visible()
    check_page(page)
    too_late = alices.starts_at.astimezone(world.campus.zone).date() + dt.timedelta(days=1)
    page.get_by_label("Not before").fill(too_late.isoformat())
    page.get_by_role("button", name="Wait for an earlier time").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a date before the appointment")
    check_page(page)
    page.get_by_label("Not before").fill("")
    page.get_by_label("Any clinician in the same department at this campus will do").check()
    page.get_by_role("button", name="Wait for an earlier time").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Earlier appointment times")
    expect(page.get_by_text("You are on the waiting list.")).to_be_visible()
    expect(page.get_by_text("No earlier times are waiting for your answer.")).to_be_visible()
    check_page(page)

    # Bob cancels for real: the freed slot is offered to Alice at once.
    bob_access = decide(world.bob_user, world.bob)
    assert bob_access is not None
    do_cancel_appointment(Actor(user=world.bob_user), bob_access, bobs, "cannot come")
    offer = SlotOffer.objects.get(patient=world.alice, status=SlotOffer.Status.OPEN)

    page.reload()
    offers = page.get_by_role("region", name="Times offered to you")
    offers.get_by_role("link", name=re.compile("^Follow-up visit")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("An earlier time")
    expect(page.get_by_text("Your current time", exact=True)).to_be_visible()
    check_page(page)
    assert page.url.endswith(f"/appointments/earlier/offers/{offer.pk}/")
    page.get_by_role("button", name="Accept the earlier time").click()

    expect(page.get_by_text("Your appointment was moved to the earlier time.")).to_be_visible()
    check_page(page)
    moved = Appointment.objects.get(patient=world.alice, status=Appointment.Status.BOOKED)
    assert moved.slot_id == early.pk
    assert page.url.endswith(f"/appointments/{moved.pk}/")
