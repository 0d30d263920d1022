"""Every GET page of the appointments capability, patient side and staff side, in its main
states and with real rows: axe-clean at desktop and phone width, no console or CSP errors,
no sideways scrolling.

Each test visits every page of one group and reports every page that fails, not only the
first. Skipped on purpose: downloads (the .ics file, insurance card images) and POST-only
endpoints (withdraw, accept, leave, notice, offer, book_request, decline, arrived,
no_show, cancel and acknowledge at the desk, end/remove session, remove block).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.organization.models import Campus, CareTeam
from portal.patients.models import Coverage
from portal.records.tests.support import make_allergy, make_medication
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ConsentForm,
    ConsentSignature,
    PatientNotice,
    Questionnaire,
    QuestionnaireAnswers,
    ScheduleBlock,
    Slot,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.scheduling.tests.support import (
    SchedulingWorld,
    book,
    local_moment,
    make_slot,
    phoenix_campus,
    scheduling_world,
)
from portal.test import World

pytestmark = pytest.mark.browser

HEALTH_CHECK = [
    {"linkId": "intro", "type": "display", "text": "A few questions before your visit."},
    {"linkId": "reason", "type": "string", "text": "Why are you coming in?", "required": True},
    {"linkId": "details", "type": "text", "text": "Anything else the clinician should know?"},
    {"linkId": "smoker", "type": "boolean", "text": "Do you smoke?"},
    {"linkId": "cups", "type": "integer", "text": "Cups of coffee a day"},
    {"linkId": "weight", "type": "decimal", "text": "Weight (kg)"},
    {"linkId": "since", "type": "date", "text": "When did it start?"},
    {
        "linkId": "pain",
        "type": "choice",
        "text": "How bad is the pain?",
        "answerOption": [{"valueString": "Mild"}, {"valueString": "Moderate"}, {"valueString": "Severe"}],
    },
    {
        "linkId": "contact",
        "type": "group",
        "text": "Emergency contact",
        "item": [
            {"linkId": "contact.name", "type": "string", "text": "Name"},
            {"linkId": "contact.phone", "type": "string", "text": "Phone"},
        ],
    },
]


@dataclass
class Rows:
    sw: SchedulingWorld
    soon: Appointment  # in 3 days: changeable, check-in open
    inside: Appointment  # inside the 24-hour cutoff, with a "running late" notice
    later: Appointment  # in 30 days: on the waitlist, check-in not open yet, inside a block
    desk_only: Appointment  # a consultation only the desk may move
    open_slot: Slot
    offered: AppointmentRequest  # two offers, one expired
    submitted: AppointmentRequest  # waiting for the desk
    waitlist_offer: SlotOffer
    questionnaire: Questionnaire  # not answered yet
    answered: Questionnaire  # answered and submitted
    consent: ConsentForm  # not signed yet
    signed: ConsentForm  # signed
    block: ScheduleBlock
    second_campus: Campus


def _direct(
    sw: SchedulingWorld, starts_at: dt.datetime, visit_type: VisitType | None = None, status: str = "booked"
) -> Appointment:
    """An appointment made without the booking rules (inside the cutoff, in the past, desk-only)."""
    slot = make_slot(sw, starts_at)
    slot.status = Slot.Status.BOOKED
    slot.save(update_fields=["status"])
    return Appointment.objects.create(
        patient=sw.world.alice,
        visit_type=visit_type or sw.follow_up,
        practitioner=slot.practitioner,
        campus=slot.campus,
        department=slot.department,
        slot=slot,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        status=status,
        booked_via=Appointment.Via.DESK,
    )


def build(world: World) -> Rows:
    sw = scheduling_world(world)
    campus, alice = world.campus, world.alice
    sw.follow_up.preparation = "Bring a list of your medicines."
    sw.follow_up.save()
    questionnaire = Questionnaire.objects.create(
        slug="health-check", title="Health check", items=HEALTH_CHECK
    )
    answered = Questionnaire.objects.create(
        slug="travel",
        title="Travel screening",
        items=[{"linkId": "abroad", "type": "boolean", "text": "Have you been abroad lately?"}],
    )
    consent = ConsentForm.objects.create(
        slug="treatment", title="Consent to treatment", body="I agree to be treated."
    )
    signed = ConsentForm.objects.create(slug="privacy", title="Privacy notice", body="I have read it.")
    sw.follow_up.questionnaires.add(questionnaire, answered)
    sw.follow_up.consent_forms.add(consent, signed)

    soon = book(sw, make_slot(sw, local_moment(campus, 3, 10)), reason="Blood pressure review")
    later = book(sw, make_slot(sw, local_moment(campus, 30, 14)))
    start_soon = (timezone.now() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    inside = _direct(sw, start_soon)
    desk_only = _direct(sw, local_moment(campus, 12, 8), sw.consult)
    _direct(sw, local_moment(campus, -10, 9), status=Appointment.Status.FULFILLED)
    PatientNotice.objects.create(
        appointment=inside,
        kind=PatientNotice.Kind.RUNNING_LATE,
        minutes_late=15,
        note="Stuck in traffic",
        created_by=world.alice_user,
    )
    open_slot = make_slot(sw, local_moment(campus, 5, 9))
    for days, hour in ((5, 11), (6, 9), (6, 13)):
        make_slot(sw, local_moment(campus, days, hour))

    make_medication(alice)
    make_allergy(alice)
    Coverage.objects.create(
        patient=alice,
        priority=Coverage.Priority.PRIMARY,
        payer_name="Acme Health",
        plan_name="Gold",
        member_id="XY123456789",
        group_number="G-1",
        subscriber_name="Alice Able",
        created_by=world.alice_user,
    )
    QuestionnaireAnswers.objects.create(
        patient=alice,
        questionnaire=answered,
        questionnaire_version="1",
        appointment=soon,
        status=QuestionnaireAnswers.Status.COMPLETED,
        items=[
            {"linkId": "abroad", "text": "Have you been abroad lately?", "answer": [{"valueBoolean": False}]}
        ],
        authored_by=world.alice_user,
        completed_at=timezone.now(),
    )
    ConsentSignature.objects.create(
        patient=alice,
        form=signed,
        form_version="1",
        appointment=soon,
        signed_name="Alice Able",
        signer_role="patient",
        signed_by=world.alice_user,
    )

    offered = AppointmentRequest.objects.create(
        patient=alice,
        campus=campus,
        department=sw.department,
        visit_type=sw.consult,
        reason="Knee pain",
        status=AppointmentRequest.Status.OFFERED,
        desk_reply="Dr. Staff can see you on either of these mornings.",
        created_by=world.alice_user,
    )
    for days, expires in ((7, dt.timedelta(days=2)), (8, -dt.timedelta(hours=1))):
        SlotOffer.objects.create(
            patient=alice,
            slot=make_slot(sw, local_moment(campus, days, 15)),
            visit_type=sw.consult,
            kind=SlotOffer.Kind.REQUEST,
            request=offered,
            expires_at=timezone.now() + expires,
        )
    submitted = AppointmentRequest.objects.create(
        patient=alice,
        campus=campus,
        department=sw.department,
        mode="video",
        reason="A rash that will not go away",
        earliest_date=timezone.localdate() + dt.timedelta(days=3),
        time_of_day=AppointmentRequest.TimeOfDay.MORNING,
        referred_by="Dr. Referrer",
        created_by=world.alice_user,
    )

    entry = WaitlistEntry.objects.create(
        patient=alice, appointment=later, any_clinician=True, created_by=world.alice_user
    )
    waitlist_offer = SlotOffer.objects.create(
        patient=alice,
        slot=make_slot(sw, local_moment(campus, 9, 11)),
        visit_type=sw.follow_up,
        kind=SlotOffer.Kind.WAITLIST,
        waitlist_entry=entry,
        expires_at=timezone.now() + dt.timedelta(hours=12),
    )
    block = ScheduleBlock.objects.create(
        practitioner=sw.clinician,
        kind=ScheduleBlock.Kind.LEAVE,
        starts_at=later.starts_at - dt.timedelta(hours=2),
        ends_at=later.ends_at + dt.timedelta(hours=2),
        reason="Conference",
        created_by=world.scheduler,
    )

    # A second desk for the scheduler, so the desk home lists campuses instead of redirecting.
    second_campus = phoenix_campus()
    second_desk = CareTeam.objects.create(
        slug="phx-desk",
        name="Phoenix scheduling desk",
        campus=second_campus,
        kind=CareTeam.Kind.SCHEDULING_DESK,
    )
    second_desk.members.add(world.scheduler.practitioner)
    return Rows(
        sw=sw,
        soon=soon,
        inside=inside,
        later=later,
        desk_only=desk_only,
        open_slot=open_slot,
        offered=offered,
        submitted=submitted,
        waitlist_offer=waitlist_offer,
        questionnaire=questionnaire,
        answered=answered,
        consent=consent,
        signed=signed,
        block=block,
        second_campus=second_campus,
    )


def visit_each(page: Page, paths: list[str]) -> None:
    """Open and check every page; fail at the end with every page that did not pass."""
    failures: list[str] = []
    for path in paths:
        try:
            response = page.goto(path)
            assert response is not None and response.status == 200, (
                f"{path} answered {response.status if response else 'nothing'}"
            )
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            check_page(page)
        except AssertionError as failure:
            failures.append(f"{path}:\n{failure}")
    assert not failures, f"{len(failures)} of {len(paths)} pages failed:\n\n" + "\n\n".join(failures)


def test_every_patient_appointment_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    sw = rows.sw
    log_in(world.alice_user)
    choice = {"visit_type": sw.follow_up.pk, "campus": world.campus.pk}
    visit_each(
        page,
        [
            reverse("appointments:list"),
            reverse("appointments:detail", args=[rows.soon.pk]),
            reverse("appointments:detail", args=[rows.inside.pk]),  # with a notice sent
            reverse("appointments:cancel", args=[rows.soon.pk]),
            reverse("appointments:reschedule", args=[rows.soon.pk]),
            reverse("appointments:reschedule", args=[rows.soon.pk]) + "?clinician=any",
            reverse("appointments:cancel", args=[rows.inside.pk]),  # cannot change: inside 24 h
            reverse("appointments:reschedule", args=[rows.inside.pk]),
            reverse("appointments:reschedule", args=[rows.desk_only.pk]),  # cannot change: desk only
            reverse("booking:start"),
            reverse("booking:start") + "?" + urlencode({"visit_type": sw.follow_up.pk}),
            reverse("booking:start") + "?" + urlencode(choice),
            reverse("booking:slots") + "?" + urlencode({**choice, "clinician": ""}),
            reverse("booking:slots") + "?" + urlencode({**choice, "clinician": sw.clinician.pk}),
            reverse("booking:confirm", args=[rows.open_slot.pk]) + f"?visit_type={sw.follow_up.pk}",
            reverse("appointment_requests:new"),
            reverse("appointment_requests:list"),
            reverse("appointment_requests:detail", args=[rows.offered.pk]),
            reverse("appointment_requests:detail", args=[rows.submitted.pk]),
            reverse("waitlist:join", args=[rows.soon.pk]),
            reverse("waitlist:join", args=[rows.later.pk]),  # already waiting
            reverse("waitlist:list"),
            reverse("waitlist:offer", args=[rows.waitlist_offer.pk]),
        ],
    )


def test_every_check_in_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    soon = rows.soon.pk
    log_in(world.alice_user)
    visit_each(
        page,
        [
            reverse("checkin:start", args=[soon]),
            reverse("checkin:details", args=[soon]),
            reverse("checkin:medications", args=[soon]),
            reverse("checkin:allergies", args=[soon]),
            reverse("checkin:insurance", args=[soon]),
            reverse("checkin:insurance_add", args=[soon]),
            reverse("checkin:questionnaire", args=[soon, rows.questionnaire.pk]),
            reverse("checkin:questionnaire", args=[soon, rows.answered.pk]),  # answered
            reverse("checkin:consent", args=[soon, rows.consent.pk]),
            reverse("checkin:consent", args=[soon, rows.signed.pk]),  # signed
            reverse("checkin:start", args=[rows.later.pk]),  # not open yet
        ],
    )


def test_the_staff_check_in_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    log_in(world.scheduler)
    visit_each(page, [reverse("checkin:staff", args=[rows.soon.pk])])
    page.context.clear_cookies()
    log_in(world.clinician)  # the care team also sees the answers
    visit_each(page, [reverse("checkin:staff", args=[rows.soon.pk])])


def test_every_desk_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    sw = rows.sw
    log_in(world.scheduler)
    slug = world.campus.slug
    inside_day = rows.inside.starts_at.astimezone(world.campus.zone).date()
    search = {
        "patient": world.alice.pk,
        "campus": world.campus.pk,
        "visit_type": sw.consult.pk,
        "practitioner": "",
    }
    visit_each(
        page,
        [
            reverse("desk:home"),
            reverse("desk:queue", args=[slug]),
            reverse("desk:queue", args=[slug]) + "?status=open",
            reverse("desk:queue", args=[rows.second_campus.slug]),  # empty
            reverse("desk:request", args=[rows.submitted.pk]),
            reverse("desk:request", args=[rows.submitted.pk])
            + "?"
            + urlencode({"visit_type": sw.follow_up.pk, "practitioner": sw.clinician.pk}),
            reverse("desk:request", args=[rows.offered.pk]),
            reverse("desk:book"),
            reverse("desk:book") + "?q=Able",
            reverse("desk:book") + f"?patient={world.alice.pk}",
            reverse("desk:book") + "?" + urlencode(search),
            reverse("desk:day", args=[slug]),
            reverse("desk:day", args=[slug]) + f"?date={inside_day.isoformat()}",
        ],
    )


def test_every_schedules_page_is_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    sw = rows.sw
    clinician = sw.clinician.pk
    assert rows.soon.slot is not None
    template = rows.soon.slot.template_id
    log_in(world.scheduler)
    visit_each(
        page,
        [
            reverse("schedules:home"),
            reverse("schedules:home") + f"?campus={world.campus.pk}&department={sw.department.pk}",
            reverse("schedules:clinician", args=[clinician]),
            reverse("schedules:add_template", args=[clinician]),
            reverse("schedules:end_template", args=[clinician, template]),
            reverse("schedules:add_block", args=[clinician]),
            reverse("schedules:block", args=[clinician, rows.block.pk]),
            reverse("schedules:visit_types"),
            reverse("schedules:add_visit_type"),
            reverse("schedules:visit_type", args=[sw.follow_up.pk]),
        ],
    )


def test_a_clinicians_own_schedule_pages_are_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    clinician = rows.sw.clinician.pk
    log_in(world.clinician)
    visit_each(
        page,
        [
            reverse("schedules:home"),
            reverse("schedules:clinician", args=[clinician]),
            reverse("schedules:add_block", args=[clinician]),
            reverse("schedules:block", args=[clinician, rows.block.pk]),
        ],
    )


def test_form_errors_are_accessible(page: Page, world: World, log_in: LogIn) -> None:
    rows = build(world)
    log_in(world.alice_user)
    page.goto(reverse("appointment_requests:new"))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert").first).to_contain_text("Tell the scheduling desk what the visit is for.")
    check_page(page)

    page.context.clear_cookies()
    log_in(world.scheduler)
    page.goto(reverse("schedules:add_template", args=[rows.sw.clinician.pk]))
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Add a session"))
    expect(page.get_by_role("alert").first).to_be_visible()
    check_page(page)
