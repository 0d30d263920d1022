"""The scheduling desk in a browser: a request is offered times, the patient accepts one,
the desk checks them in; booking on a patient's behalf."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.scheduling.models import Appointment, AppointmentRequest, SlotOffer
from portal.scheduling.tests.support import local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser


def test_a_request_is_offered_accepted_and_checked_in(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    campus = world.campus
    for hour in (9, 11, 14):
        make_slot(sw, local_moment(campus, 2, hour))
    appointment_request = AppointmentRequest.objects.create(
        patient=world.alice,
        campus=campus,
        department=sw.department,
        reason="Knee pain when climbing stairs",
        created_by=world.alice_user,
    )

    log_in(world.scheduler)
    page.goto("/staff/desk/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appointment requests: Rochester, Minnesota")
    expect(page.get_by_role("table")).to_contain_text("Knee pain when climbing stairs")
    check_page(page)

    page.get_by_role("link", name="Alice Able").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request from Alice Able")
    page.get_by_label("Kind of visit").select_option(label="New patient consultation")
    page.get_by_role("button", name="Find times").click()
    check_page(page)

    page.get_by_role("checkbox", name=re.compile(r"^9:00 AM C[SD]T \(Central time\)")).check()
    page.get_by_role("checkbox", name=re.compile(r"^11:00 AM C[SD]T \(Central time\)")).check()
    page.get_by_label("Message to the patient").fill("Two mornings this week.")
    page.get_by_role("button", name="Offer the chosen times").click()
    expect(page.get_by_role("status")).to_contain_text("Times offered")
    expect(page.get_by_role("region", name="Times offered")).to_contain_text("Waiting for your answer")
    check_page(page)
    assert SlotOffer.objects.filter(request=appointment_request).count() == 2

    log_in(world.alice_user)
    page.goto(f"/appointments/requests/{appointment_request.pk}/")
    expect(page.get_by_text("Two mornings this week.")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Accept this time").first.click()
    check_page(page)
    appointment = Appointment.objects.get(patient=world.alice)
    assert appointment.booked_via == Appointment.Via.REQUEST

    log_in(world.scheduler)
    day = appointment.starts_at.astimezone(campus.zone).date()
    page.goto(f"/staff/desk/campuses/{campus.slug}/day/?date={day.isoformat()}")
    visit = page.get_by_role("listitem").filter(has_text="Alice Able")
    expect(visit).to_contain_text("New patient consultation")
    check_page(page)
    visit.get_by_role("button", name="Mark arrived").click()
    expect(page.get_by_role("status")).to_contain_text("Checked in.")
    expect(page.get_by_role("listitem").filter(has_text="Alice Able")).to_contain_text("Checked in")
    check_page(page)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ARRIVED

    page.goto("/staff/desk/campuses/rochester/day/?date=not-a-day")
    expect(page.get_by_role("status")).to_contain_text("not a date")
    check_page(page)


def test_the_desk_books_for_a_patient_who_phones(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    make_slot(sw, local_moment(world.campus, 3, 10))
    log_in(world.scheduler)
    page.goto("/staff/desk/book/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Book for a patient")
    check_page(page)

    page.get_by_label("Name or clinic number").fill("10000002")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile(r"^Book for this patient\W+Bob Baker$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book for Bob Baker")
    check_page(page)

    page.get_by_label("Kind of visit").select_option(label="New patient consultation")
    page.get_by_role("button", name="Find times").click()
    page.get_by_role("radio", name=re.compile(r"^10:00 AM")).check()
    page.get_by_label("Reason for the visit").fill("Phoned about a rash")
    check_page(page)
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("status")).to_contain_text("Booked for Bob Baker")
    expect(page.get_by_role("listitem").filter(has_text="Bob Baker")).to_contain_text("Scheduled")
    check_page(page)
    appointment = Appointment.objects.get(patient=world.bob)
    assert appointment.booked_via == Appointment.Via.DESK
