"""Earlier times: joining the waitlist, offering freed slots in order, accepting (one
winner), declining and expiry passing the slot on, and who may do any of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.patients.access import decide
from portal.patients.models import Patient, Scope
from portal.scheduling import search, waitlist
from portal.scheduling.booking import claim_slot, do_cancel_appointment
from portal.scheduling.models import Appointment, Slot, SlotOffer, WaitlistEntry
from portal.scheduling.tasks import expire_offers
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, make_patient, make_user, query_count

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@pytest.fixture
def sw(world: World, settings: Settings) -> SchedulingWorld:
    settings.PORTAL_WAITLIST_OFFER_BATCH = 2
    settings.PORTAL_WAITLIST_OFFER_MINUTES = 60
    return scheduling_world(world)


def new_patient(sw: SchedulingWorld, number: int) -> Patient:
    user = make_user(f"waiter{number}")
    return make_patient(f"2000000{number}", f"Waiter{number}", "Able", sw.world.campus, account=user)


def wait(sw: SchedulingWorld, appointment: Appointment, **options: Any) -> WaitlistEntry:
    patient = appointment.patient
    user = patient.account
    access = decide(user, patient)
    assert user is not None and access is not None
    return waitlist.do_join_waitlist(
        Actor(user=user),
        access,
        appointment,
        any_clinician=options.get("any_clinician", False),
        earliest_date=options.get("earliest_date"),
    )


def cancel(appointment: Appointment) -> None:
    user = appointment.patient.account
    access = decide(user, appointment.patient)
    assert user is not None and access is not None
    do_cancel_appointment(Actor(user=user), access, appointment, "plans changed")


def as_patient(offer: SlotOffer) -> tuple[Actor, Any]:
    user = offer.patient.account
    access = decide(user, offer.patient)
    assert user is not None and access is not None
    return Actor(user=user), access


@pytest.fixture
def freed(sw: SchedulingWorld, django_capture_on_commit_callbacks: Capture) -> dict[str, Any]:
    """Bob holds an early slot; three patients wait (in order) with later visits; Bob cancels."""
    early = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    bobs = book(sw, early, patient=sw.world.bob)
    waiters = [new_patient(sw, n) for n in range(3)]
    entries = []
    for day, patient in enumerate(waiters):
        later = book(sw, make_slot(sw, local_moment(sw.world.campus, 20 + day, 9)), patient=patient)
        entries.append(wait(sw, later))
    with django_capture_on_commit_callbacks(execute=True):
        cancel(bobs)
    return {"slot": early, "waiters": waiters, "entries": entries}


def open_offers(slot: Slot) -> list[SlotOffer]:
    return list(SlotOffer.objects.filter(slot=slot, status=SlotOffer.Status.OPEN).order_by("id"))


# ---------------------------------------------------------------- offering


def test_a_cancelled_slot_is_offered_to_the_first_waiting_in_order(
    sw: SchedulingWorld, freed: dict[str, Any]
) -> None:
    offers = open_offers(freed["slot"])
    assert [offer.patient for offer in offers] == freed["waiters"][:2]
    assert all(offer.kind == SlotOffer.Kind.WAITLIST for offer in offers)
    slot = Slot.objects.get(pk=freed["slot"].pk)
    assert slot.status == Slot.Status.OPEN
    assert slot.held_until == offers[0].expires_at
    notice = Notification.objects.get(patient=freed["waiters"][0])
    assert notice.link == reverse("waitlist:offer", args=[offers[0].pk])
    assert "CST" in notice.body or "CDT" in notice.body  # the campus's labelled time
    assert not Notification.objects.filter(patient=freed["waiters"][2]).exists()


def test_a_held_slot_is_hidden_from_search(sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    found = search.find_open_slots(sw.follow_up, sw.world.campus)
    assert freed["slot"] not in found
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61), tick=False):
        assert freed["slot"] in search.find_open_slots(sw.follow_up, sw.world.campus)


def test_a_new_slot_is_not_offered(sw: SchedulingWorld) -> None:
    fresh = make_slot(sw, local_moment(sw.world.campus, 3, 9))
    wait(sw, book(sw, make_slot(sw, local_moment(sw.world.campus, 20, 9))))
    assert waitlist.refresh_offers(fresh.pk) == []
    fresh.refresh_from_db()
    assert fresh.held_until is None


def test_only_matching_entries_are_offered(
    sw: SchedulingWorld, settings: Settings, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.PORTAL_WAITLIST_OFFER_BATCH = 10
    slot_day = local_moment(sw.world.campus, 5, 9)
    early = make_slot(sw, slot_day)
    bobs = book(sw, early, patient=sw.world.bob)
    dave = sw.world.unassigned_staff.practitioner
    patients = [new_patient(sw, n) for n in range(5)]
    # 0: a visit sooner than the slot; 1: "not before" after the slot; 2: another clinician,
    # and any clinician will not do; 3: suits; 4: would suit but has another visit then.
    sooner = book(sw, make_slot(sw, local_moment(sw.world.campus, 4, 9)), patient=patients[0])
    wait(sw, sooner)
    later_one = book(sw, make_slot(sw, local_moment(sw.world.campus, 20, 9)), patient=patients[1])
    wait(sw, later_one, earliest_date=(slot_day + dt.timedelta(days=2)).date())
    others = book(
        sw, make_slot(sw, local_moment(sw.world.campus, 21, 9), practitioner=dave), patient=patients[2]
    )
    wait(sw, others)
    fine = book(sw, make_slot(sw, local_moment(sw.world.campus, 22, 9)), patient=patients[3])
    wait(sw, fine)
    busy = book(sw, make_slot(sw, local_moment(sw.world.campus, 23, 9)), patient=patients[4])
    wait(sw, busy)
    overlapping = make_slot(sw, slot_day + dt.timedelta(minutes=30), practitioner=dave)
    book(sw, overlapping, patient=patients[4])
    with django_capture_on_commit_callbacks(execute=True):
        cancel(bobs)
    assert [offer.patient for offer in open_offers(early)] == [patients[3]]


def test_same_department_when_any_clinician_will_do(
    sw: SchedulingWorld, django_capture_on_commit_callbacks: Capture
) -> None:
    dave = sw.world.unassigned_staff.practitioner
    early = make_slot(sw, local_moment(sw.world.campus, 5, 9), practitioner=dave)
    bobs = book(sw, early, patient=sw.world.bob)
    picky, flexible = new_patient(sw, 1), new_patient(sw, 2)
    wait(sw, book(sw, make_slot(sw, local_moment(sw.world.campus, 20, 9)), patient=picky))
    wait(
        sw,
        book(sw, make_slot(sw, local_moment(sw.world.campus, 21, 9)), patient=flexible),
        any_clinician=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        cancel(bobs)
    assert [offer.patient for offer in open_offers(early)] == [flexible]


# ---------------------------------------------------------------- answering


def test_accept_moves_the_visit_and_offers_the_old_slot_onward(
    sw: SchedulingWorld, freed: dict[str, Any], django_capture_on_commit_callbacks: Capture
) -> None:
    first, second = open_offers(freed["slot"])
    old = freed["entries"][0].appointment
    # Someone waits for a time before the first waiter's old one.
    latest = new_patient(sw, 9)
    wait(sw, book(sw, make_slot(sw, local_moment(sw.world.campus, 40, 9)), patient=latest))
    with django_capture_on_commit_callbacks(execute=True):
        moved = waitlist.do_accept_waitlist_offer(*as_patient(first), first)
    old.refresh_from_db()
    assert old.status == Appointment.Status.CANCELLED
    assert moved.slot == freed["slot"] and moved.booked_via == Appointment.Via.WAITLIST
    assert moved.rescheduled_from == old
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (SlotOffer.Status.ACCEPTED, SlotOffer.Status.WITHDRAWN)
    assert WaitlistEntry.objects.get(pk=freed["entries"][0].pk).status == WaitlistEntry.Status.FULFILLED
    slot = Slot.objects.get(pk=freed["slot"].pk)
    assert (slot.status, slot.held_until) == (Slot.Status.BOOKED, None)
    # The old slot is free now, and offered to the waiters whose visits are later than it.
    onward = open_offers(old.slot)
    assert {offer.patient for offer in onward} == {freed["waiters"][1], freed["waiters"][2]}
    assert AuditEvent.objects.filter(action="waitlist.accept", patient=freed["waiters"][0]).exists()


def test_decline_passes_the_slot_to_the_next(
    sw: SchedulingWorld, freed: dict[str, Any], django_capture_on_commit_callbacks: Capture
) -> None:
    first, _second = open_offers(freed["slot"])
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.do_decline_waitlist_offer(*as_patient(first), first)
    first.refresh_from_db()
    assert first.status == SlotOffer.Status.DECLINED
    assert [offer.patient for offer in open_offers(freed["slot"])] == freed["waiters"][1:]
    # Still waiting for another time.
    assert WaitlistEntry.objects.get(pk=freed["entries"][0].pk).status == WaitlistEntry.Status.ACTIVE


def test_expiry_passes_the_slot_to_the_next(sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    first, second = open_offers(freed["slot"])
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61), tick=False):
        expire_offers.call(freed["slot"].pk)
        first.refresh_from_db()
        assert first.status == SlotOffer.Status.EXPIRED
        actor, access = as_patient(first)
        with pytest.raises(waitlist.WaitlistRefused):
            waitlist.do_accept_waitlist_offer(actor, access, first)
        offers = open_offers(freed["slot"])
        assert [offer.patient for offer in offers] == [freed["waiters"][2]]
        assert Slot.objects.get(pk=freed["slot"].pk).held_until == offers[0].expires_at
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=130), tick=False):
        assert waitlist.sweep() == 0  # nobody is left to offer it to
        assert open_offers(freed["slot"]) == []
        assert Slot.objects.get(pk=freed["slot"].pk).held_until is None
    assert second.pk not in {offer.pk for offer in open_offers(freed["slot"])}


def test_two_patients_accepting_one_slot_one_wins(sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    first, second = open_offers(freed["slot"])
    winner = waitlist.do_accept_waitlist_offer(*as_patient(second), second)
    with pytest.raises(waitlist.OfferTaken):
        waitlist.do_accept_waitlist_offer(*as_patient(first), first)
    assert Appointment.objects.filter(slot=freed["slot"], status=Appointment.Status.BOOKED).get() == winner
    assert Appointment.objects.get(pk=freed["entries"][0].appointment_id).is_active


def test_slot_taken_meanwhile_withdraws_the_offer(sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    first, _second = open_offers(freed["slot"])
    assert claim_slot(freed["slot"].pk, offered=True)  # another process got there between the checks
    with pytest.raises(waitlist.OfferTaken):
        waitlist.do_accept_waitlist_offer(*as_patient(first), first)
    first.refresh_from_db()
    assert first.status == SlotOffer.Status.WITHDRAWN
    assert Appointment.objects.get(pk=freed["entries"][0].appointment_id).status == Appointment.Status.BOOKED


def test_leaving_withdraws_and_passes_on(
    sw: SchedulingWorld, freed: dict[str, Any], django_capture_on_commit_callbacks: Capture
) -> None:
    first, _second = open_offers(freed["slot"])
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.do_leave_waitlist(*as_patient(first), freed["entries"][0])
    first.refresh_from_db()
    assert first.status == SlotOffer.Status.WITHDRAWN
    assert [offer.patient for offer in open_offers(freed["slot"])] == freed["waiters"][1:]


# ---------------------------------------------------------------- pages


@pytest.fixture
def appointment(sw: SchedulingWorld) -> Appointment:
    return book(sw, make_slot(sw, local_moment(sw.world.campus, 20, 9)))


def give_proxy_schedule(world: World) -> None:
    world.proxy_grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    world.proxy_grant.save()


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_join_as_patient_or_proxy_with_schedule(
    client: Client, sw: SchedulingWorld, appointment: Appointment, persona: str
) -> None:
    give_proxy_schedule(sw.world)
    client.force_login(sw.world.persona(persona))
    url = reverse("waitlist:join", args=[appointment.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b"Central time" in page.content
    response = client.post(url, {"any_clinician": "on"})
    assert response.status_code == 302 and response["Location"] == reverse("waitlist:list")
    entry = WaitlistEntry.objects.get(appointment=appointment)
    assert entry.any_clinician and entry.created_by == sw.world.persona(persona)
    assert AuditEvent.objects.filter(action="waitlist.join", patient=sw.world.alice).count() == 1
    again = client.post(url, {})
    assert again.status_code == 409
    assert WaitlistEntry.objects.filter(appointment=appointment).count() == 1
    listing = client.get(reverse("waitlist:list"))
    assert b"Waiting for an earlier time" in listing.content


@pytest.mark.parametrize("persona", ["proxy", "other_patient", "clinician", "unassigned_staff"])
def test_others_get_the_missing_page(
    client: Client, sw: SchedulingWorld, appointment: Appointment, persona: str
) -> None:
    entry = wait(sw, appointment)
    offer = SlotOffer.objects.create(
        patient=sw.world.alice,
        slot=make_slot(sw, local_moment(sw.world.campus, 5, 9)),
        visit_type=sw.follow_up,
        kind=SlotOffer.Kind.WAITLIST,
        waitlist_entry=entry,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    client.force_login(sw.world.persona(persona))  # the proxy has no schedule scope here
    for name, pk, method in (
        ("waitlist:join", appointment.pk, "get"),
        ("waitlist:join", appointment.pk, "post"),
        ("waitlist:leave", entry.pk, "post"),
        ("waitlist:offer", offer.pk, "get"),
        ("waitlist:offer", offer.pk, "post"),
    ):
        call = getattr(client, method)
        response = call(reverse(name, args=[pk]), {"answer": "accept"} if method == "post" else {})
        missing = call(reverse(name, args=[999999]), {"answer": "accept"} if method == "post" else {})
        assert_same_as_missing(response, missing)
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.ACTIVE and offer.status == SlotOffer.Status.OPEN


def test_anonymous_is_sent_to_sign_in(client: Client, appointment: Appointment) -> None:
    for url in (reverse("waitlist:list"), reverse("waitlist:join", args=[appointment.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_list_needs_the_schedule_scope(client: Client, sw: SchedulingWorld) -> None:
    client.force_login(sw.world.proxy_user)
    assert client.get(reverse("waitlist:list")).status_code == 403


@pytest.mark.parametrize(
    "value",
    ["not a date", "2020-01-01", "x" * 5000, "9999-99-99"],
)
def test_bad_dates_change_nothing(client: Client, appointment: Appointment, value: str) -> None:
    client.force_login(appointment.patient.account)  # type: ignore[arg-type]
    response = client.post(reverse("waitlist:join", args=[appointment.pk]), {"earliest_date": value})
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert not WaitlistEntry.objects.exists()


def test_a_date_on_or_after_the_visit_is_refused(client: Client, appointment: Appointment) -> None:
    client.force_login(appointment.patient.account)  # type: ignore[arg-type]
    day = appointment.starts_at.astimezone(appointment.campus.zone).date()
    response = client.post(
        reverse("waitlist:join", args=[appointment.pk]), {"earliest_date": day.isoformat()}
    )
    assert b"before the appointment" in response.content
    assert not WaitlistEntry.objects.exists()
    ok = client.post(
        reverse("waitlist:join", args=[appointment.pk]),
        {"earliest_date": (day - dt.timedelta(days=3)).isoformat()},
    )
    assert ok.status_code == 302
    assert WaitlistEntry.objects.get().earliest_date == day - dt.timedelta(days=3)


def test_a_cancelled_visit_cannot_wait(client: Client, appointment: Appointment) -> None:
    cancel(appointment)
    client.force_login(appointment.patient.account)  # type: ignore[arg-type]
    response = client.post(reverse("waitlist:join", args=[appointment.pk]), {})
    assert response.status_code == 409
    assert not WaitlistEntry.objects.exists()


def test_leave_is_post_only_and_audited(
    client: Client, sw: SchedulingWorld, appointment: Appointment
) -> None:
    entry = wait(sw, appointment)
    client.force_login(sw.world.alice_user)
    assert client.get(reverse("waitlist:leave", args=[entry.pk])).status_code == 405
    response = client.post(reverse("waitlist:leave", args=[entry.pk]))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.CANCELLED
    assert AuditEvent.objects.filter(action="waitlist.leave").exists()


def test_offer_page_accept(
    client: Client, sw: SchedulingWorld, freed: dict[str, Any], django_capture_on_commit_callbacks: Capture
) -> None:
    first, _second = open_offers(freed["slot"])
    client.force_login(first.patient.account)  # type: ignore[arg-type]
    url = reverse("waitlist:offer", args=[first.pk])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Your current time" in text and "Earlier time offered" in text and "(Central time)" in text
    assert client.post(url, {"answer": "maybe"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"answer": "accept"})
    moved = Appointment.objects.get(slot=freed["slot"], status=Appointment.Status.BOOKED)
    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:detail", args=[moved.pk])
    again = client.post(url, {"answer": "accept"})
    assert again.status_code == 409


def test_offer_page_someone_else_first(client: Client, sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    first, second = open_offers(freed["slot"])
    waitlist.do_accept_waitlist_offer(*as_patient(second), second)
    client.force_login(first.patient.account)  # type: ignore[arg-type]
    response = client.post(reverse("waitlist:offer", args=[first.pk]), {"answer": "accept"})
    assert response.status_code == 409
    assert b"Someone else accepted this time first" in response.content


def test_offer_page_expired(client: Client, sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    first, _second = open_offers(freed["slot"])
    # Past its time but not yet marked expired by the worker: refused all the same.
    SlotOffer.objects.filter(pk=first.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client.force_login(first.patient.account)  # type: ignore[arg-type]
    url = reverse("waitlist:offer", args=[first.pk])
    assert b"can no longer be answered" in client.get(url).content
    response = client.post(url, {"answer": "accept"})
    assert response.status_code == 409
    assert b"has ended" in response.content
    assert Appointment.objects.get(pk=freed["entries"][0].appointment_id).is_active


def test_list_queries_do_not_grow(client: Client, sw: SchedulingWorld) -> None:
    client.force_login(sw.world.alice_user)

    def add(count: int, start: int) -> None:
        for n in range(count):
            appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 30 + start + n, 9)))
            entry = wait(sw, appointment)
            SlotOffer.objects.create(
                patient=sw.world.alice,
                slot=make_slot(sw, local_moment(sw.world.campus, 5 + start + n, 9)),
                visit_type=sw.follow_up,
                kind=SlotOffer.Kind.WAITLIST,
                waitlist_entry=entry,
                expires_at=timezone.now() + dt.timedelta(hours=1),
            )

    client.get(reverse("waitlist:list"))  # the session's first request does extra work
    add(1, 0)
    few = query_count(lambda: client.get(reverse("waitlist:list")))
    add(5, 10)
    many = query_count(lambda: client.get(reverse("waitlist:list")))
    assert few == many


def test_the_sweep_command_catches_up(sw: SchedulingWorld, freed: dict[str, Any]) -> None:
    out = StringIO()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=61), tick=False):
        call_command("scheduling_sweep", stdout=out)
    assert "Made 1 new offer(s)" in out.getvalue()
    assert [offer.patient for offer in open_offers(freed["slot"])] == [freed["waiters"][2]]
