"""The scheduling desk: its campuses, the request queue, answering a request, booking on a
patient's behalf, and the day list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.access import decide
from portal.patients.models import Scope
from portal.scheduling import views_desk
from portal.scheduling.actions_desk import do_offer_slots
from portal.scheduling.booking import BookingRefused
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    PatientNotice,
    Slot,
    SlotOffer,
)
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def make_request(sw: SchedulingWorld, **fields: Any) -> AppointmentRequest:
    values: dict[str, Any] = {
        "patient": sw.world.alice,
        "campus": sw.world.campus,
        "department": sw.department,
        "reason": "Knee pain when climbing stairs for three weeks",
        "created_by": sw.world.alice_user,
    }
    values.update(fields)
    return AppointmentRequest.objects.create(**values)


def other_campus(name: str = "phoenix") -> tuple[Campus, User]:
    """A second campus with its own scheduling desk and a desk worker on it."""
    campus = Campus.objects.create(
        slug=name,
        name=f"{name.title()}, Arizona",
        short_name=name.title(),
        address_line="1 Main",
        city=name.title(),
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0101",
    )
    desk = CareTeam.objects.create(
        slug=f"{name}-desk", name=f"{name} desk", campus=campus, kind=CareTeam.Kind.SCHEDULING_DESK
    )
    worker = make_staff(f"{name}-scheduler", Practitioner.Role.SCHEDULER, desk)
    return campus, worker


def desk_access(sw: SchedulingWorld) -> Any:
    access = decide(sw.world.scheduler, sw.world.alice)
    assert access is not None and access.allows(Scope.SCHEDULE)
    return access


def day_url(campus: Campus, day: dt.date | str | None = None) -> str:
    url = reverse("desk:day", args=[campus.slug])
    return f"{url}?date={day}" if day is not None else url


# Who may use the desk --------------------------------------------------------------------


def test_a_one_campus_worker_goes_straight_to_their_queue(client: Client, sw: SchedulingWorld) -> None:
    signed_in(client, sw.world.scheduler)
    response = client.get(reverse("desk:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:queue", args=["rochester"])


def test_home_lists_each_campus_with_its_counts(client: Client, sw: SchedulingWorld) -> None:
    campus, _worker = other_campus()
    desk = CareTeam.objects.get(campus=campus)
    desk.members.add(sw.world.scheduler.practitioner)
    make_request(sw)
    make_request(sw, status=AppointmentRequest.Status.DECLINED)
    # At 6:00 campus time, so a visit later today is still bookable whenever the test runs.
    with time_machine.travel(local_moment(sw.world.campus, 1, 6), tick=False):
        book(sw, make_slot(sw, local_moment(sw.world.campus, 0, 14), minutes=30))
        book(sw, make_slot(sw, local_moment(sw.world.campus, 1, 14), minutes=30))
        page = signed_in(client, sw.world.scheduler).get(reverse("desk:home"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Rochester, Minnesota" in text and "Phoenix, Arizona" in text
    assert "1 new request ·" in text and "0 new requests" in text
    assert "1 visit today" in text and "0 visits today" in text
    assert reverse("desk:day", args=["phoenix"]) in text


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff", "patient", "proxy", "other_patient"])
def test_anyone_off_the_desk_gets_the_missing_page(client: Client, sw: SchedulingWorld, persona: str) -> None:
    sw.world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    sw.world.proxy_grant.save()
    appointment_request = make_request(sw)
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 5, 9)))
    signed_in(client, sw.world.persona(persona))
    urls = [
        reverse("desk:home"),
        reverse("desk:queue", args=["rochester"]),
        reverse("desk:request", args=[appointment_request.pk]),
        reverse("desk:book"),
        day_url(sw.world.campus),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("desk:offer", args=[appointment_request.pk]),
        reverse("desk:decline", args=[appointment_request.pk]),
        reverse("desk:arrived", args=[appointment.pk]),
        reverse("desk:cancel", args=[appointment.pk]),
    ]
    for url in posts:
        assert client.post(url, {"reason": "x"}).status_code == 404, url
    appointment.refresh_from_db()
    appointment_request.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    for url in (reverse("desk:home"), reverse("desk:request", args=[appointment_request.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_campus_desk_gets_the_missing_page(client: Client, sw: SchedulingWorld) -> None:
    _campus, worker = other_campus()
    appointment_request = make_request(sw)
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 5, 9)))
    signed_in(client, worker)
    assert client.get(reverse("desk:queue", args=["rochester"])).status_code == 404
    assert client.get(day_url(sw.world.campus)).status_code == 404
    assert client.get(reverse("desk:queue", args=["phoenix"])).status_code == 200
    refused = client.get(reverse("desk:request", args=[appointment_request.pk]))
    assert_same_as_missing(refused, client.get(reverse("desk:request", args=[MISSING])))
    response = client.post(reverse("desk:arrived", args=[appointment.pk]))
    assert_same_as_missing(response, client.post(reverse("desk:arrived", args=[MISSING])))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert AuditEvent.objects.filter(action="access.refused", actor_id=worker.pk).exists()


def test_wrong_methods_and_odd_ids_never_fail(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    signed_in(client, sw.world.scheduler)
    assert client.get(reverse("desk:offer", args=[appointment_request.pk])).status_code == 405
    assert client.post(reverse("desk:request", args=[appointment_request.pk])).status_code == 405
    assert client.get("/staff/desk/requests/99999999999999999999999/").status_code == 404
    assert client.get(reverse("desk:queue", args=["nowhere"])).status_code == 404
    assert client.delete(reverse("desk:book")).status_code == 405


# The queue -------------------------------------------------------------------------------


def test_the_queue_puts_open_requests_first_oldest_first(client: Client, sw: SchedulingWorld) -> None:
    now = timezone.now()
    offered = make_request(sw, reason="Offered one", status=AppointmentRequest.Status.OFFERED)
    newest = make_request(sw, reason="Newest waiting")
    oldest = make_request(sw, reason="Oldest waiting")
    booked = make_request(sw, reason="Long settled", status=AppointmentRequest.Status.BOOKED)
    for row, days in ((offered, 9), (newest, 1), (oldest, 5), (booked, 20)):
        AppointmentRequest.objects.filter(pk=row.pk).update(created_at=now - dt.timedelta(days=days))
    make_request(sw, patient=sw.world.bob, campus=other_campus()[0], reason="Elsewhere")
    text = (
        signed_in(client, sw.world.scheduler).get(reverse("desk:queue", args=["rochester"])).content.decode()
    )
    order = [
        text.index(reason) for reason in ("Oldest waiting", "Newest waiting", "Offered one", "Long settled")
    ]
    assert order == sorted(order)
    assert "Elsewhere" not in text
    assert "10000001" in text and "Family Medicine" in text
    event = AuditEvent.objects.get(action="appointment_request.desk_queue_view")
    assert event.detail["patients"] == [sw.world.alice.pk] and event.actor_role == "staff"


def test_the_queue_filters_by_status_and_specialty(client: Client, sw: SchedulingWorld) -> None:
    make_request(sw, reason="Waiting one")
    make_request(sw, reason="Declined one", status=AppointmentRequest.Status.DECLINED)
    make_request(sw, reason="No specialty", department=None)
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:queue", args=["rochester"])
    text = client.get(url, {"status": "open", "department": str(sw.department.pk)}).content.decode()
    assert "Waiting one" in text and "Declined one" not in text and "No specialty" not in text
    text = client.get(url, {"status": "declined"}).content.decode()
    assert "Declined one" in text and "Waiting one" not in text
    bad = client.get(url, {"status": "nonsense", "department": "x" * 5000, "after": "1.2"})
    assert bad.status_code == 200 and "There is a problem" in bad.content.decode()


def test_the_queue_pages_by_keyset(
    client: Client, sw: SchedulingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views_desk, "QUEUE_ROWS", 2)
    for number in range(5):
        make_request(sw, reason=f"Request number {number}")
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:queue", args=["rochester"])
    seen: list[str] = []
    page = client.get(url)
    while True:
        text = page.content.decode()
        seen += [f"Request number {n}" for n in range(5) if f"Request number {n}" in text]
        cursor = page.context["next_cursor"]
        if cursor is None:
            break
        page = client.get(url, {"after": cursor})
    assert seen == [f"Request number {n}" for n in range(5)]
    assert client.get(url, {"after": "9" * 400}).status_code == 200


def test_the_queue_runs_a_fixed_number_of_queries(client: Client, sw: SchedulingWorld) -> None:
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:queue", args=["rochester"])
    client.get(url)

    def queue_with(count: int) -> int:
        AppointmentRequest.objects.all().delete()
        for number in range(count):
            make_request(sw, patient=sw.world.alice if number % 2 else sw.world.bob)
        return query_count(lambda: client.get(url))

    assert queue_with(3) == queue_with(20)


# Answering a request ---------------------------------------------------------------------


def test_the_request_page_shows_the_request_patient_and_times(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw, earliest_date=dt.date(2030, 1, 2), visit_type=sw.consult)
    make_slot(sw, local_moment(sw.world.campus, 3, 9))
    already = book(sw, make_slot(sw, local_moment(sw.world.campus, 4, 14)))
    page = signed_in(client, sw.world.scheduler).get(reverse("desk:request", args=[appointment_request.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Knee pain when climbing stairs" in text
    assert f"{sw.world.alice.age_on(timezone.localdate())} years" in text
    assert "Rochester, Minnesota" in text
    assert "9:00 AM" in text and "(Central time)" in text  # the open slot, in campus time
    assert already.visit_type.name in text  # upcoming appointments
    assert "New patient consultation" in text  # a desk-only kind of visit is offered
    event = AuditEvent.objects.get(action="appointment_request.desk_view")
    assert (event.patient_id, event.actor_role) == (sw.world.alice.pk, "staff")


def test_offering_times_creates_offers_and_tells_the_patient(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    slots = [make_slot(sw, local_moment(sw.world.campus, days, 9)) for days in (3, 4, 5)]
    signed_in(client, sw.world.scheduler)
    response = client.post(
        reverse("desk:offer", args=[appointment_request.pk]),
        {"visit_type": sw.consult.pk, "slots": [slots[0].pk, slots[2].pk], "reply": "Two mornings"},
    )
    assert response.status_code == 302
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.OFFERED
    assert appointment_request.desk_reply == "Two mornings"
    assert appointment_request.handled_by == sw.world.scheduler and appointment_request.handled_at
    offers = SlotOffer.objects.filter(request=appointment_request)
    assert {offer.slot_id for offer in offers} == {slots[0].pk, slots[2].pk}
    for offer in offers:
        assert offer.kind == SlotOffer.Kind.REQUEST and offer.visit_type == sw.consult
        assert offer.patient == sw.world.alice and offer.status == SlotOffer.Status.OPEN
        assert offer.expires_at <= timezone.now() + dt.timedelta(days=3)
    note = Notification.objects.get(recipient=sw.world.alice_user)
    assert note.link == f"/appointments/requests/{appointment_request.pk}/"
    event = AuditEvent.objects.get(action="appointment_request.offer")
    assert (event.patient_id, event.actor_id, event.actor_role) == (
        sw.world.alice.pk,
        sw.world.scheduler.pk,
        "staff",
    )
    # Slots stay open to everyone: an offer reserves nothing.
    assert Slot.objects.filter(status=Slot.Status.OPEN).count() == 3


def test_offering_needs_one_to_five_usable_times(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    slots = [make_slot(sw, local_moment(sw.world.campus, days, 9)) for days in range(2, 9)]
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:offer", args=[appointment_request.pk])
    none = client.post(url, {"visit_type": sw.consult.pk})
    assert none.status_code == 400 and "Choose at least one time to offer." in none.content.decode()
    six = client.post(url, {"visit_type": sw.consult.pk, "slots": [slot.pk for slot in slots[:6]]})
    assert six.status_code == 400 and "Offer at most 5 times." in six.content.decode()
    bogus = client.post(url, {"visit_type": "x", "slots": ["nope", "1" * 30]})
    assert bogus.status_code == 400
    short = make_slot(sw, local_moment(sw.world.campus, 10, 9), minutes=30)
    too_short = client.post(url, {"visit_type": sw.consult.pk, "slots": [short.pk]})
    assert too_short.status_code == 400
    assert not SlotOffer.objects.exists()
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED


def test_offering_again_replaces_the_earlier_offers(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    first, second = (make_slot(sw, local_moment(sw.world.campus, days, 9)) for days in (3, 4))
    actor = Actor(user=sw.world.scheduler)
    do_offer_slots(actor, desk_access(sw), appointment_request, [first], sw.consult)
    do_offer_slots(actor, desk_access(sw), appointment_request, [second], sw.consult)
    statuses = dict(SlotOffer.objects.values_list("slot_id", "status"))
    assert statuses == {first.pk: SlotOffer.Status.WITHDRAWN, second.pk: SlotOffer.Status.OPEN}


def test_declining_needs_a_reason(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:decline", args=[appointment_request.pk])
    blank = client.post(url, {"reason": "   "})
    assert blank.status_code == 400 and "Say why the request is declined." in blank.content.decode()
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED
    assert not Notification.objects.exists()
    response = client.post(url, {"reason": "Please see your own clinician first for a referral."})
    assert response.status_code == 302
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.DECLINED
    assert appointment_request.desk_reply.startswith("Please see your own clinician")
    assert appointment_request.handled_by == sw.world.scheduler
    assert Notification.objects.filter(recipient=sw.world.alice_user).count() == 1
    assert AuditEvent.objects.filter(action="appointment_request.decline", actor_role="staff").exists()
    again = client.post(url, {"reason": "Twice"})
    assert again.status_code == 400 and "already been answered" in again.content.decode()


def test_booking_a_request_directly(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    signed_in(client, sw.world.scheduler)
    response = client.post(
        reverse("desk:book_request", args=[appointment_request.pk]),
        {"visit_type": sw.consult.pk, "slot": slot.pk, "reply": "See you then"},
    )
    assert response.status_code == 302
    appointment_request.refresh_from_db()
    appointment = appointment_request.appointment
    assert appointment is not None and appointment.visit_type == sw.consult
    assert appointment.booked_via == Appointment.Via.REQUEST and appointment.booked_by == sw.world.scheduler
    assert appointment_request.status == AppointmentRequest.Status.BOOKED
    assert appointment_request.handled_by == sw.world.scheduler
    assert Notification.objects.filter(recipient=sw.world.alice_user, link__contains="requests").exists()
    assert AuditEvent.objects.get(action="appointment.book").actor_role == "staff"


def test_a_just_taken_time_says_so_and_lists_times_again(client: Client, sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw)
    taken = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    other = make_slot(sw, local_moment(sw.world.campus, 3, 11))
    book(sw, taken, patient=sw.world.bob)
    signed_in(client, sw.world.scheduler)
    response = client.post(
        reverse("desk:book_request", args=[appointment_request.pk]),
        {"visit_type": sw.consult.pk, "slot": taken.pk},
    )
    text = response.content.decode()
    assert response.status_code == 409
    assert "That time was just taken" in text
    assert f'value="{other.pk}"' in text
    appointment_request.refresh_from_db()
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED


def test_the_race_inside_the_booking_is_a_409_too(
    client: Client, sw: SchedulingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    appointment_request = make_request(sw)
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    # Someone else claims the slot between the form check and the conditional UPDATE.
    monkeypatch.setattr("portal.scheduling.booking.claim_slot", lambda *args, **kwargs: False)
    response = signed_in(client, sw.world.scheduler).post(
        reverse("desk:book_request", args=[appointment_request.pk]),
        {"visit_type": sw.consult.pk, "slot": slot.pk},
    )
    assert response.status_code == 409 and "That time was just taken" in response.content.decode()
    assert not Appointment.objects.exists()


# Booking on a patient's behalf -----------------------------------------------------------


def test_the_desk_finds_a_patient_by_clinic_number_or_name_and_birth_date(
    client: Client, sw: SchedulingWorld
) -> None:
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:book")
    by_number = client.get(url, {"q": "10000002"}).content.decode()
    assert "Baker, Bob" in by_number and "Able, Alice" not in by_number
    by_name = client.get(url, {"q": "Able", "birth_date": "1980-05-17"}).content.decode()
    assert "Able, Alice" in by_name and f"?patient={sw.world.alice.pk}" in by_name
    assert "There is a problem" in client.get(url, {"q": ""}).content.decode()


def test_booking_on_behalf_of_a_patient(client: Client, sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:book")
    search: dict[str, str | int] = {
        "patient": sw.world.alice.pk,
        "campus": sw.world.campus.pk,
        "visit_type": sw.consult.pk,
        "practitioner": "",
    }
    page = client.get(url, search)
    assert page.status_code == 200 and f'value="{slot.pk}"' in page.content.decode()
    response = client.post(url, {**search, "slot": slot.pk, "reason": "Called in"})
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.booked_via, appointment.booked_by) == (
        sw.world.alice,
        Appointment.Via.DESK,
        sw.world.scheduler,
    )
    assert appointment.reason == "Called in"
    event = AuditEvent.objects.get(action="appointment.book")
    assert (event.actor_id, event.actor_role, event.patient_id) == (
        sw.world.scheduler.pk,
        "staff",
        sw.world.alice.pk,
    )


def test_booking_on_behalf_when_the_time_was_just_taken(client: Client, sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    book(sw, slot, patient=sw.world.bob)
    signed_in(client, sw.world.scheduler)
    response = client.post(
        reverse("desk:book"),
        {
            "patient": sw.world.alice.pk,
            "campus": sw.world.campus.pk,
            "visit_type": sw.consult.pk,
            "slot": slot.pk,
        },
    )
    assert response.status_code == 409 and "That time was just taken" in response.content.decode()
    assert not Appointment.objects.filter(patient=sw.world.alice).exists()


def test_booking_on_behalf_refuses_bad_input(client: Client, sw: SchedulingWorld) -> None:
    elsewhere, _worker = other_campus()
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:book")
    assert client.get(url, {"patient": MISSING}).status_code == 404
    assert client.get(url, {"patient": "abc"}).status_code == 404
    base = {"patient": sw.world.alice.pk, "campus": sw.world.campus.pk, "visit_type": sw.consult.pk}
    assert client.post(url, {**base, "reason": "x" * 600, "slot": slot.pk}).status_code == 400
    assert client.post(url, {**base, "campus": elsewhere.pk, "slot": slot.pk}).status_code == 400
    assert not Appointment.objects.exists()


# The day list ----------------------------------------------------------------------------


def test_the_day_list_shows_the_days_visits_in_time_order(client: Client, sw: SchedulingWorld) -> None:
    late = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 15), minutes=30))
    early = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 8), minutes=30), patient=sw.world.bob)
    book(sw, make_slot(sw, local_moment(sw.world.campus, 3, 8), minutes=30))  # the next day
    PatientNotice.objects.create(
        appointment=late,
        kind=PatientNotice.Kind.RUNNING_LATE,
        minutes_late=15,
        created_by=sw.world.alice_user,
    )
    day = early.starts_at.astimezone(sw.world.campus.zone).date()
    text = signed_in(client, sw.world.scheduler).get(day_url(sw.world.campus, day)).content.decode()
    assert text.index("Bob Baker") < text.index("Alice Able")
    assert text.count("Follow-up visit") == 2
    assert "8:00 AM CST (Central time)" in text or "8:00 AM CDT (Central time)" in text
    assert "Running late, about 15 minutes" in text and "Acknowledge" in text
    assert "Carol Staff" in text and "Scheduled" in text
    event = AuditEvent.objects.get(action="appointment.desk_day_view")
    assert event.detail["patients"] == sorted([sw.world.alice.pk, sw.world.bob.pk])


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30", "99999-01-01", "0001-01-01", "x" * 3000])
def test_a_bad_date_shows_today_with_a_message(client: Client, sw: SchedulingWorld, bad: str) -> None:
    response = signed_in(client, sw.world.scheduler).get(day_url(sw.world.campus, bad))
    assert response.status_code == 200
    assert response.context["day"] == sw.world.campus.local_now().date()
    assert "That is not a date we understand" in response.content.decode()


def test_the_day_list_runs_a_fixed_number_of_queries(client: Client, sw: SchedulingWorld) -> None:
    signed_in(client, sw.world.scheduler)
    url = day_url(sw.world.campus, (sw.world.campus.local_now() + dt.timedelta(days=3)).date().isoformat())
    client.get(url)

    def day_with(count: int) -> int:
        Appointment.objects.all().delete()
        Slot.objects.all().delete()
        for number in range(count):
            start = local_moment(sw.world.campus, 3, 7) + dt.timedelta(minutes=30 * number)
            appointment = book(
                sw, make_slot(sw, start, minutes=30), patient=sw.world.alice if number % 2 else sw.world.bob
            )
            PatientNotice.objects.create(appointment=appointment, kind=PatientNotice.Kind.CANNOT_COME)
        response_queries = query_count(lambda: client.get(url))
        assert Appointment.objects.count() == count
        return response_queries

    assert day_with(3) == day_with(20)


def test_the_desk_marks_arrival(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 9)))
    response = signed_in(client, sw.world.scheduler).post(reverse("desk:arrived", args=[appointment.pk]))
    assert response.status_code == 302 and "date=" in response["Location"]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ARRIVED and appointment.arrived_at is not None
    assert AuditEvent.objects.get(action="appointment.arrive").actor_role == "staff"
    client.post(reverse("desk:arrived", args=[appointment.pk]))  # twice: refused with a message
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ARRIVED


def test_no_show_only_after_the_start(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 9)))
    signed_in(client, sw.world.scheduler)
    url = reverse("desk:no_show", args=[appointment.pk])
    early = client.post(url, follow=True)
    assert "only after its start time" in early.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    with time_machine.travel(appointment.starts_at + dt.timedelta(minutes=20), tick=False):
        client.force_login(sw.world.scheduler)
        client.post(url)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.NOSHOW
    assert AuditEvent.objects.filter(action="appointment.no_show").exists()


def test_the_desk_cancels_inside_the_online_cutoff(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, timezone.now() + dt.timedelta(hours=3)))
    response = signed_in(client, sw.world.scheduler).post(
        reverse("desk:cancel", args=[appointment.pk]), {"reason": "Patient phoned"}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancelled_by == sw.world.scheduler and appointment.cancel_reason == "Patient phoned"
    assert AuditEvent.objects.get(action="appointment.cancel").actor_role == "staff"
    assert appointment.slot is not None
    assert Slot.objects.get(pk=appointment.slot.pk).status == Slot.Status.OPEN


def test_the_desk_acknowledges_a_notice(client: Client, sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 9)))
    other = book(sw, make_slot(sw, local_moment(sw.world.campus, 2, 11)), patient=sw.world.bob)
    notice = PatientNotice.objects.create(appointment=appointment, kind=PatientNotice.Kind.CANNOT_COME)
    signed_in(client, sw.world.scheduler)
    wrong = client.post(reverse("desk:acknowledge", args=[other.pk, notice.pk]))
    assert wrong.status_code == 404
    assert client.post(reverse("desk:acknowledge", args=[appointment.pk, notice.pk])).status_code == 302
    notice.refresh_from_db()
    assert notice.acknowledged_by == sw.world.scheduler and notice.acknowledged_at is not None
    assert AuditEvent.objects.filter(action="patient_notice.acknowledge").count() == 1


def test_actions_refuse_what_does_not_apply(sw: SchedulingWorld) -> None:
    appointment_request = make_request(sw, status=AppointmentRequest.Status.WITHDRAWN)
    slot = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    with pytest.raises(BookingRefused):
        do_offer_slots(
            Actor(user=sw.world.scheduler), desk_access(sw), appointment_request, [slot], sw.consult
        )
    assert not SlotOffer.objects.exists()
