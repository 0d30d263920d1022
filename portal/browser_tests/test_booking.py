"""Booking in the browser: self-scheduling from the start page to the appointment, a request
to the scheduling desk, and accepting a time the desk offered. Every page is checked with
axe at desktop and phone width."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.scheduling.models import Appointment, AppointmentRequest, SlotOffer
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.browser


def test_a_patient_books_an_open_time(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    sw.follow_up.preparation = "Bring a list of your medicines."
    sw.follow_up.save()
    taken = make_slot(sw, local_moment(world.campus, 4, 9))
    make_slot(sw, local_moment(world.campus, 4, 10))
    make_slot(sw, local_moment(world.campus, 5, 14))
    log_in(world.alice_user)

    page.goto("/appointments/book/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    check_page(page)
    page.get_by_role("button", name="Continue").click()  # nothing chosen
    expect(page.get_by_role("alert")).to_contain_text("Choose one of the options.")
    check_page(page)
    page.get_by_role("group", name="Family Medicine").get_by_label(re.compile("^Follow-up visit")).check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label(re.compile("^Rochester, Minnesota")).check()
    check_page(page)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Any clinician: the soonest time")).to_be_checked()
    check_page(page)
    page.get_by_role("button", name="Show open times").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open times")
    expect(page.locator(".booking-day")).to_have_count(2)
    check_page(page)

    book(sw, taken, patient=world.bob)  # someone else is quicker
    page.get_by_role("link", name=re.compile(r"^9:00 AM C[DS]T \(Central time\)")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("That time was just taken")
    check_page(page)
    page.get_by_role("link", name=re.compile(r"10:00 AM C[DS]T \(Central time\)")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your appointment")
    expect(page.get_by_text("Bring a list of your medicines.")).to_be_visible()
    check_page(page)
    page.get_by_label(re.compile("^Reason for the visit")).fill("Blood pressure review")
    page.get_by_role("button", name="Book this appointment").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up visit")
    expect(page.get_by_text("Your appointment is booked.")).to_be_visible()
    check_page(page)
    appointment = Appointment.objects.get(patient=world.alice)
    assert appointment.reason == "Blood pressure review"
    assert page.url.endswith(f"/appointments/{appointment.pk}/")


def test_a_patient_asks_the_desk_for_an_appointment(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    log_in(world.alice_user)
    page.goto("/appointments/requests/new/")
    expect(
        page.get_by_text("Choose the campus with the specialty you need, not the nearest one.")
    ).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_contain_text("Tell the scheduling desk what the visit is for.")
    check_page(page)

    page.get_by_label(re.compile("^Rochester, Minnesota")).check()
    page.get_by_label(re.compile("^Specialty")).select_option(label="Family Medicine")
    page.get_by_label("Video visit").check()
    page.get_by_label(re.compile("^Reason for the visit")).fill("A rash that will not go away")
    page.get_by_label(re.compile("^Earliest date")).fill(
        (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    )
    page.get_by_label("Mornings").check()
    page.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Appointment request")
    expect(page.get_by_text("Waiting for the scheduling desk")).to_be_visible()
    check_page(page)
    appointment_request = AppointmentRequest.objects.get(patient=world.alice)
    assert appointment_request.department == sw.department
    assert appointment_request.mode == "video"
    page.get_by_role("link", name="Your appointment requests").click()
    expect(page.get_by_role("link", name="Family Medicine · Rochester, Minnesota")).to_be_visible()
    check_page(page)


def test_a_patient_accepts_a_time_the_desk_offered(page: Page, world: World, log_in: LogIn) -> None:
    sw = scheduling_world(world)
    appointment_request = AppointmentRequest.objects.create(
        patient=world.alice,
        campus=world.campus,
        department=sw.department,
        reason="Knee pain",
        status=AppointmentRequest.Status.OFFERED,
        desk_reply="Dr. Staff can see you on either of these mornings.",
    )
    for days, expires in ((6, dt.timedelta(days=2)), (7, dt.timedelta(days=2)), (8, -dt.timedelta(hours=1))):
        SlotOffer.objects.create(
            patient=world.alice,
            slot=make_slot(sw, local_moment(world.campus, days, 9)),
            visit_type=sw.consult,
            kind=SlotOffer.Kind.REQUEST,
            request=appointment_request,
            expires_at=timezone.now() + expires,
        )
    log_in(world.alice_user)
    page.goto("/appointments/requests/")
    page.get_by_role("link", name="Family Medicine · Rochester, Minnesota").click()
    expect(page.get_by_text("Dr. Staff can see you on either of these mornings.")).to_be_visible()
    expect(page.get_by_role("button", name="Accept this time")).to_have_count(2)
    expect(page.get_by_text("Expired")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Accept this time").first.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("New patient consultation")
    check_page(page)
    appointment = Appointment.objects.get(patient=world.alice)
    assert appointment.booked_via == Appointment.Via.REQUEST
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.BOOKED
