"""Every telehealth page state the flow tests do not reach, each through `check_page` (axe for
WCAG 2.2 AA at desktop and 360-px width, no console errors, no CSP violations).

Covered elsewhere, so not repeated here: the device check, the waiting room and the call on
both sides (test_video_call.py) and the e-visit flows (test_evisits.py). The states below
are made directly in the database where the way there through the pages is long: the
patient's video page before it opens, cancelled, ended, completed and past its window,
and a proxy's device check; the "Join video visit" button, the "you can join from" notice
and the notice for a proxy who may not join, on the appointment pages; the home page's
video-visit and e-visit cards; the clinician's "Video visits" list with a visit in each
status and someone in "Waiting now"; the staff visit page before joining (for the host
and for an invited interpreter) and in every other state; the invite form with an error;
the "host only" refusal; the empty e-visit lists and the condition choice. Last, the whole `portal demo`
set-up is seeded into the test database and the demo's video visit is tried from both sides.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, Response, expect
from pytest_django.fixtures import Settings

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.scheduling.models import Appointment, Mode
from portal.telehealth import video
from portal.telehealth.models import EVisit, Participant, VideoVisit
from portal.telehealth.tests.support import (
    TelehealthWorld,
    host_access,
    telehealth_world,
    video_appointment,
    waiting_patient,
)
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.browser

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
ANSWERS: list[dict[str, Any]] = [
    {"linkId": "days", "text": "How many days have you had symptoms?", "answer": [{"valueInteger": 3}]},
    {"linkId": "fever", "text": "Do you have a fever?", "answer": [{"valueBoolean": False}]},
    {"linkId": "breathing", "text": "Do you have trouble breathing?", "answer": [{"valueBoolean": False}]},
]


@dataclass
class Rows:
    """Video visits with Carol in every state; Alice's are the patient-side ones."""

    tw: TelehealthWorld
    open: Appointment  # Alice's, starting in 5 minutes; Alice is in the waiting room, Ivy invited
    early: Appointment  # Alice's, in two days: not open yet
    cancelled: Appointment  # Alice's, cancelled
    ended: Appointment  # Alice's, this morning: the call ended, not yet marked completed
    completed: Appointment  # Alice's, earlier: ended and marked completed
    late: Appointment  # Alice's, this morning: booked, never joined, past its window
    in_progress: Appointment  # Bob's, started 10 minutes ago: both in the call
    missed: Appointment  # Cleo's, an hour ago: no-show


def _visit(appointment: Appointment, status: str, started: dt.timedelta | None = None) -> VideoVisit:
    now = timezone.now()
    return VideoVisit.objects.create(
        appointment=appointment,
        status=status,
        started_at=now - started if started is not None else None,
        ended_at=now - MINUTE if status == VideoVisit.Status.ENDED else None,
    )


def _seat(visit: VideoVisit, user: User, role: str, status: str) -> Participant:
    now = timezone.now()
    return Participant.objects.create(
        visit=visit,
        user=user,
        role=role,
        status=status,
        display_name=video.display_name(user),
        session=video.new_session(),
        waiting_since=now - 10 * MINUTE,
        admitted_at=now - 9 * MINUTE,
        last_seen_at=now,
    )


def build(world: World) -> Rows:
    tw = telehealth_world(world)
    sw = tw.sw
    alice, carol = world.alice, world.clinician
    early = video_appointment(sw, alice, starts_in=2 * dt.timedelta(days=1))
    cancelled = video_appointment(sw, alice, starts_in=dt.timedelta(days=1))
    cancelled.status = Appointment.Status.CANCELLED
    cancelled.save(update_fields=["status"])

    # Past the end of its window, so only the ended call decides the page (and the home
    # page's card shows the open visit, not this one).
    ended = video_appointment(sw, alice, starts_in=-4 * HOUR)
    ended.status = Appointment.Status.ARRIVED
    ended.save(update_fields=["status"])
    ended_visit = _visit(ended, VideoVisit.Status.ENDED, started=4 * HOUR)
    _seat(ended_visit, carol, Participant.Role.HOST, Participant.Status.LEFT)
    _seat(ended_visit, world.alice_user, Participant.Role.PATIENT, Participant.Status.LEFT)

    completed = video_appointment(sw, alice, starts_in=-6 * HOUR)
    completed.status = Appointment.Status.FULFILLED
    completed.save(update_fields=["status"])
    _visit(completed, VideoVisit.Status.ENDED, started=6 * HOUR)

    late = video_appointment(sw, alice, starts_in=-3 * HOUR)

    in_progress = video_appointment(sw, world.bob, starts_in=-10 * MINUTE)
    in_progress.status = Appointment.Status.ARRIVED
    in_progress.save(update_fields=["status"])
    call = _visit(in_progress, VideoVisit.Status.IN_PROGRESS, started=9 * MINUTE)
    _seat(call, carol, Participant.Role.HOST, Participant.Status.ADMITTED)
    _seat(call, world.bob_user, Participant.Role.PATIENT, Participant.Status.ADMITTED)

    cleo = make_patient("10000009", "Cleo", "Cole", world.campus, account=make_user("cleo"))
    missed = video_appointment(sw, cleo, starts_in=-HOUR)
    missed.status = Appointment.Status.NOSHOW
    missed.save(update_fields=["status"])

    # Alice waits for the visit about to start (through the real action), and Carol has
    # invited Ivy the interpreter to it.
    waiting_patient(tw)
    video.do_invite(Actor(user=carol), host_access(tw), tw.appointment, tw.interpreter)
    return Rows(
        tw=tw,
        open=tw.appointment,
        early=early,
        cancelled=cancelled,
        ended=ended,
        completed=completed,
        late=late,
        in_progress=in_progress,
        missed=missed,
    )


@pytest.fixture
def rows(world: World, settings: Settings, tmp_path: Path) -> Rows:
    settings.MEDIA_ROOT = tmp_path / "media"
    return build(world)


def visit(page: Page, path: str, status: int = 200) -> Response:
    response = page.goto(path)
    assert response is not None and response.status == status, (
        f"{path} answered {response.status if response else 'nothing'}, not {status}"
    )
    return response


def heading(page: Page, name: str) -> None:
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


# The patient's video page in each state that is not the call ---------------------------------


def test_the_video_page_before_the_visit_opens(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("video:visit", args=[rows.early.pk]))
    heading(page, "This visit is not open yet")
    expect(page.get_by_text("15 minutes before the start")).to_be_visible()
    expect(page.get_by_role("button", name="Start the check")).to_have_count(0)
    check_page(page)


def test_the_video_page_of_a_cancelled_visit(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("video:visit", args=[rows.cancelled.pk]))
    heading(page, "This visit was cancelled")
    check_page(page)


def test_the_video_page_after_the_call_ended(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("video:visit", args=[rows.ended.pk]))
    heading(page, "The visit has ended")
    check_page(page)


def test_the_video_page_after_the_visit_was_completed(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("video:visit", args=[rows.completed.pk]))
    heading(page, "The visit has ended")
    check_page(page)


def test_the_video_page_past_its_window(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("video:visit", args=[rows.late.pk]))
    heading(page, "The time for this visit has passed")
    check_page(page)


def test_the_device_check_for_a_proxy(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.proxy_user)
    visit(page, reverse("video:visit", args=[rows.open.pk]))
    expect(page.get_by_text("For Alice Able.")).to_be_visible()
    expect(page.get_by_role("button", name="Start the check")).to_be_visible()
    check_page(page)


# The way in: appointment pages and the home page --------------------------------------------


def test_the_appointment_list_with_a_join_button_and_a_notice(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("appointments:list"))
    join = page.get_by_role("link", name=re.compile(r"^Join video visit"))
    expect(join).to_have_count(1)
    expect(join).to_have_attribute("href", reverse("video:visit", args=[rows.open.pk]))
    expect(page.get_by_text("You can join from 15 minutes before the start.")).to_have_count(1)
    check_page(page)


def test_the_appointment_page_with_the_join_button(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("appointments:detail", args=[rows.open.pk]))
    expect(page.get_by_role("link", name="Join video visit")).to_have_attribute(
        "href", reverse("video:visit", args=[rows.open.pk])
    )
    check_page(page)


def test_the_appointment_page_before_the_visit_opens(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("appointments:detail", args=[rows.early.pk]))
    expect(page.get_by_text("It opens 15 minutes before the start time")).to_be_visible()
    expect(page.get_by_role("link", name="Join video visit")).to_have_count(0)
    check_page(page)


def test_the_appointment_page_for_a_proxy_who_may_not_join(page: Page, rows: Rows, log_in: LogIn) -> None:
    # A proxy who manages appointments but may not see the record: told, not given the button.
    scheduler_only = make_user("quinn", first_name="Quinn", last_name="Able")
    ProxyGrant.objects.create(
        grantee=scheduler_only,
        patient=rows.tw.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.SCHEDULE],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    log_in(scheduler_only)
    visit(page, reverse("appointments:detail", args=[rows.open.pk]))
    expect(
        page.get_by_text("Only the patient, or someone allowed to see their health record")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Join video visit")).to_have_count(0)
    check_page(page)


def test_the_home_page_with_the_video_visit_and_e_visit_cards(page: Page, rows: Rows, log_in: LogIn) -> None:
    world, condition = rows.tw.world, rows.tw.condition
    now = timezone.now()
    common: dict[str, Any] = {
        "patient": world.alice,
        "condition": condition,
        "answers": ANSWERS,
        "price_cents": 35_00,
        "started_by": world.alice_user,
    }
    EVisit.objects.create(
        **common,
        status=EVisit.Status.COMPLETED,
        submitted_at=now - 2 * HOUR,
        reviewer=world.clinician,
        claimed_at=now - HOUR,
        replied_at=now - 30 * MINUTE,
        assessment="A common cold.",
        plan="Rest and fluids.",
    )
    EVisit.objects.create(**common, status=EVisit.Status.SUBMITTED, submitted_at=now - 10 * MINUTE)
    log_in(world.alice_user)
    visit(page, "/")
    expect(page.get_by_role("heading", name="Video visit", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Join video visit")).to_have_attribute(
        "href", reverse("video:visit", args=[rows.open.pk])
    )
    expect(page.get_by_role("heading", name="E-visits", exact=True)).to_be_visible()
    expect(page.get_by_text("New answer")).to_be_visible()
    expect(page.get_by_text("Waiting for a clinician")).to_be_visible()
    check_page(page)


# The patient's e-visit pages with nothing in them yet ----------------------------------------


def test_the_e_visit_list_when_empty(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("evisits:list"))
    expect(page.get_by_text("You have not started any e-visits yet.")).to_be_visible()
    check_page(page)


def test_the_e_visit_condition_choice(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.alice_user)
    visit(page, reverse("evisits:choose"))
    expect(page.get_by_role("link", name=re.compile(r"^Choose ?: Cold and flu symptoms$"))).to_be_visible()
    check_page(page)


# The clinician's side -------------------------------------------------------------------------


def test_the_video_visits_list_with_every_status_and_someone_waiting(
    page: Page, rows: Rows, log_in: LogIn
) -> None:
    log_in(rows.tw.world.clinician)
    visit(page, reverse("staff_video:today"))
    heading(page, "Video visits")
    waiting_box = page.locator("#video-waiting-now")
    expect(waiting_box).to_contain_text("Alice Able")
    expect(
        waiting_box.get_by_role("link", name=re.compile(r"^Open the visit ?: Alice Able$"))
    ).to_be_visible()
    current = page.get_by_role("region", name="Coming up and in progress")
    expect(current.get_by_text(re.compile(r"^Patient waiting since .* \(place 1 in line\)$"))).to_be_visible()
    expect(current.get_by_text("In progress", exact=True)).to_be_visible()
    expect(current.get_by_text("Not started", exact=True)).to_have_count(2)  # in two days, and the late one
    finished = page.get_by_role("region", name="Finished")
    expect(finished.get_by_text("Ended, not yet marked completed")).to_be_visible()
    expect(finished.get_by_text("Completed", exact=True)).to_be_visible()
    expect(finished.get_by_text("Missed", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Cancelled|Able.*cancel"))).to_have_count(0)
    check_page(page)


def test_the_host_s_visit_page_before_joining(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.clinician)
    visit(page, reverse("staff_video:visit", args=[rows.open.pk]))
    heading(page, "Video visit: Alice Able")
    expect(page.get_by_text("1 person is in the waiting room.")).to_be_visible()
    expect(page.get_by_role("button", name="Join the visit")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Withdraw ?: Ivy Staff$"))).to_be_visible()
    expect(page.get_by_label("Clinician or interpreter to invite")).to_be_visible()
    check_page(page)


@pytest.mark.parametrize(
    ("which", "status"),
    [
        ("early", "The visit opens at"),
        ("late", "The time for this visit has passed"),
        ("ended", "The call has ended."),
        ("completed", "The visit is completed."),
        ("cancelled", "This visit was cancelled."),
    ],
)
def test_the_host_s_visit_page_in_each_other_state(
    page: Page, rows: Rows, log_in: LogIn, which: str, status: str
) -> None:
    log_in(rows.tw.world.clinician)
    visit(page, reverse("staff_video:visit", args=[getattr(rows, which).pk]))
    expect(page.get_by_role("region", name="Call")).to_contain_text(status)
    expect(page.get_by_role("button", name="Join the visit")).to_have_count(0)
    check_page(page)


def test_the_invite_form_with_an_error(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.clinician)
    visit(page, reverse("staff_video:visit", args=[rows.open.pk]))
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Invite", exact=True).click()
    assert navigation.value is not None and navigation.value.status == 400
    expect(page.get_by_text("Choose the person to invite.").first).to_be_visible()
    check_page(page)
    assert Participant.objects.filter(visit__appointment=rows.open, role="interpreter").count() == 1


def test_an_invited_interpreter_s_visit_page_before_joining(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.interpreter)
    visit(page, reverse("staff_video:visit", args=[rows.open.pk]))
    heading(page, "Video visit: Alice Able")
    expect(page.get_by_role("button", name="Join the visit")).to_be_visible()
    # Inviting, ending and completing are the host's.
    expect(page.get_by_label("Clinician or interpreter to invite")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark completed")).to_have_count(0)
    check_page(page)


def test_the_host_only_page_when_an_interpreter_tries_to_admit(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.interpreter)
    visit(page, reverse("staff_video:visit", args=[rows.open.pk]))
    # Ivy has no admit button; send the page's own join form (with its CSRF token) to admit.
    join = page.get_by_role("button", name="Join the visit")
    join.evaluate(
        "(button, action) => { button.form.action = action; }",
        reverse("staff_video:admit", args=[rows.open.pk]),
    )
    with page.expect_navigation() as navigation:
        join.click()
    assert navigation.value is not None and navigation.value.status == 403
    heading(page, "Only the host can do that")
    check_page(page)
    assert Participant.objects.get(visit__appointment=rows.open, role="patient").status == "waiting"


def test_the_e_visit_queue_when_empty(page: Page, rows: Rows, log_in: LogIn) -> None:
    log_in(rows.tw.world.clinician)
    visit(page, reverse("staff_evisits:queue"))
    expect(page.get_by_text("No e-visits are waiting. Well done.")).to_be_visible()
    check_page(page)


# The demo, seeded as `portal demo` seeds it ---------------------------------------------------


def test_the_demo_video_visit_is_joinable_and_on_the_clinician_s_list(
    page: Page, log_in: LogIn, transactional_db: None, settings: Settings, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Everything `portal demo` sets up (migrate, organisation, patients, sign-ins,
    # schedules, appointments, messages, billing, telehealth), without the server.
    call_command("demo", no_serve=True, stdout=io.StringIO())
    jamie = Patient.objects.get(account__username="demo-patient")
    soon = Appointment.objects.filter(
        patient=jamie, mode=Mode.VIDEO, source_id__startswith="demo:jamie:video-soon:"
    ).get()
    mia_soon = Appointment.objects.get(source_id__startswith="demo:mia:video-soon:")

    log_in(User.objects.get(username="demo-patient"))
    visit(page, reverse("appointments:list"))
    join = page.get_by_role("link", name=re.compile(r"^Join video visit"))
    expect(join).to_have_count(1)
    expect(join).to_have_attribute("href", reverse("video:visit", args=[soon.pk]))
    check_page(page)
    join.click()
    heading(page, "Video visit")
    expect(page.get_by_role("button", name="Start the check")).to_be_visible()
    check_page(page)

    page.context.clear_cookies()
    log_in(User.objects.get(username="demo-clinician"))
    visit(page, reverse("staff_video:today"))
    current = page.get_by_role("region", name="Coming up and in progress")
    for appointment in (soon, mia_soon):
        link = current.locator(f"a[href='{reverse('staff_video:visit', args=[appointment.pk])}']")
        expect(link).to_contain_text(appointment.patient.full_name)
    check_page(page)
