"""The video visit's state changes: waiting, admitting, leaving, ending, completing, inviting."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.patients.access import visit_access
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.models import Participant, VideoVisit
from portal.telehealth.tests.support import (
    TelehealthWorld,
    host_access,
    in_call,
    patient_access,
    telehealth_world,
    video_appointment,
    waiting_patient,
)
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def test_patient_waits_checks_in_and_clinician_is_told(tw: TelehealthWorld) -> None:
    participant = waiting_patient(tw)
    assert participant.status == Participant.Status.WAITING
    assert participant.role == Participant.Role.PATIENT
    tw.appointment.refresh_from_db()
    assert tw.appointment.status == Appointment.Status.ARRIVED
    assert Notification.objects.filter(recipient=tw.world.clinician, for_staff=True).count() == 1
    assert AuditEvent.objects.filter(action="telehealth.joined", patient=tw.world.alice).exists()


def test_admit_starts_the_visit_and_a_reload_goes_straight_back_in(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    assert patient.status == Participant.Status.ADMITTED
    assert host.visit.__class__.objects.get(pk=host.visit_id).status == VideoVisit.Status.IN_PROGRESS
    again = waiting_patient(tw)
    assert again.status == Participant.Status.ADMITTED
    assert again.session != patient.session


def test_proxy_waits_as_proxy(tw: TelehealthWorld) -> None:
    participant = waiting_patient(tw, tw.world.proxy_user)
    assert participant.role == Participant.Role.PROXY


def test_visit_is_closed_before_its_window(tw: TelehealthWorld) -> None:
    later = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(hours=2))
    access = patient_access(tw.world.alice_user, tw.world.alice)
    with pytest.raises(video.VisitClosed):
        video.do_enter_waiting_room(Actor(user=tw.world.alice_user), access, later)


def test_ending_stops_everyone_and_completing_fulfils(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    video.do_complete_visit(Actor(user=tw.world.clinician), host_access(tw), tw.appointment)
    patient.refresh_from_db()
    tw.appointment.refresh_from_db()
    assert patient.status == Participant.Status.LEFT
    assert tw.appointment.status == Appointment.Status.FULFILLED
    with pytest.raises(video.VisitClosed):
        waiting_patient(tw)


def test_only_the_booked_clinician_or_invited_staff_get_a_staff_seat(tw: TelehealthWorld) -> None:
    alice, booked = tw.world.alice, tw.appointment.practitioner_id
    assert visit_access(tw.world.clinician, alice, booked_with=booked, invited=False) is not None
    assert visit_access(tw.world.unassigned_staff, alice, booked_with=booked, invited=False) is None
    assert visit_access(tw.world.admin, alice, booked_with=booked, invited=True) is None
    assert visit_access(tw.world.alice_user, alice, booked_with=booked, invited=True) is None
    video.do_invite(Actor(user=tw.world.clinician), host_access(tw), tw.appointment, tw.interpreter)
    seat = Participant.objects.get(user=tw.interpreter)
    assert seat.role == Participant.Role.INTERPRETER and seat.status == Participant.Status.INVITED
    assert visit_access(tw.interpreter, alice, booked_with=booked, invited=True) is not None
