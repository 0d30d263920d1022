"""The booking actions: claim once, cancel reopens at once, the online cutoff, reschedule
moves everything or nothing, and reminders follow the visit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import OutboxMessage
from portal.patients.access import decide
from portal.scheduling.booking import (
    BookingRefused,
    SlotTaken,
    claim_slot,
    do_cancel_appointment,
    do_reschedule_appointment,
)
from portal.scheduling.models import Appointment, PreCheckIn, Slot
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def test_booking_takes_the_slot_and_is_audited(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    appointment = book(sw, slot)
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BOOKED
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=30)
    assert AuditEvent.objects.filter(action="appointment.book", patient=sw.world.alice).exists()


def test_a_slot_is_booked_once(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    book(sw, slot)
    with pytest.raises(SlotTaken):
        book(sw, slot, patient=sw.world.bob)
    assert Appointment.objects.filter(slot=slot).count() == 1
    assert not claim_slot(slot.pk)


def test_a_held_slot_is_only_for_its_offers(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    Slot.objects.filter(pk=slot.pk).update(held_until=timezone.now() + dt.timedelta(hours=1))
    assert not claim_slot(slot.pk)
    assert claim_slot(slot.pk, offered=True)


def test_desk_only_visit_types_refused_online(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    with pytest.raises(BookingRefused):
        book(sw, slot, sw.consult)
    slot.refresh_from_db()
    assert slot.status == Slot.Status.OPEN


def test_cancel_reopens_the_slot_at_once(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    appointment = book(sw, slot)
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    do_cancel_appointment(Actor(user=sw.world.alice_user), access, appointment, "feeling better")
    slot.refresh_from_db()
    assert slot.status == Slot.Status.OPEN
    assert book(sw, slot, patient=sw.world.bob).patient == sw.world.bob


def test_no_online_cancel_inside_the_cutoff(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, timezone.now() + dt.timedelta(hours=30))
    appointment = book(sw, slot)
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    with time_after(hours=10), pytest.raises(BookingRefused):
        do_cancel_appointment(Actor(user=sw.world.alice_user), access, appointment)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_reschedule_moves_the_visit_and_its_check_in(sw: SchedulingWorld) -> None:
    first = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    second = make_slot(sw, local_moment(sw.world.campus, 12, 9))
    appointment = book(sw, first)
    PreCheckIn.objects.create(appointment=appointment, demographics_confirmed_at=timezone.now())
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    moved = do_reschedule_appointment(Actor(user=sw.world.alice_user), access, appointment, second)
    appointment.refresh_from_db()
    first.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert first.status == Slot.Status.OPEN
    assert moved.rescheduled_from == appointment
    assert PreCheckIn.objects.get().appointment == moved


def test_reschedule_to_a_taken_slot_changes_nothing(sw: SchedulingWorld) -> None:
    first = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    second = make_slot(sw, local_moment(sw.world.campus, 12, 9))
    appointment = book(sw, first)
    book(sw, second, patient=sw.world.bob)
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    with pytest.raises(SlotTaken):
        do_reschedule_appointment(Actor(user=sw.world.alice_user), access, appointment, second)
    appointment.refresh_from_db()
    first.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert first.status == Slot.Status.BOOKED


def test_reminders_queued_and_cancelled_with_the_visit(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    appointment = book(sw, slot)
    reminders = OutboxMessage.objects.filter(patient=sw.world.alice, sent_at__isnull=True)
    # A week and a day before, in the portal and by email, to Alice (Pat has no schedule scope).
    assert reminders.count() == 4
    assert {message.recipient for message in reminders} == {sw.world.alice_user}
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    do_cancel_appointment(Actor(user=sw.world.alice_user), access, appointment)
    assert not reminders.filter(cancelled_at__isnull=True).exists()


class time_after:
    """Travel forward `hours` with time-machine, as a context manager."""

    def __init__(self, hours: float) -> None:
        import time_machine

        self._traveller = time_machine.travel(timezone.now() + dt.timedelta(hours=hours), tick=False)

    def __enter__(self) -> None:
        self._traveller.start()

    def __exit__(self, *exc: object) -> None:
        self._traveller.stop()
