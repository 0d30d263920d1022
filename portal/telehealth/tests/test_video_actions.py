"""The video visit's state changes: waiting, admitting, leaving, ending, completing, inviting."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.patients.access import visit_access
from portal.patients.models import ProxyGrant, Scope
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.models import Participant, Signal, VideoVisit
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


# Who is in the call is the host's decision ----------------------------------------------------


def test_someone_who_left_waits_to_be_admitted_again(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    alice = patient_access(tw.world.alice_user, tw.world.alice)
    video.do_leave(Actor(user=tw.world.alice_user), alice, patient)
    again = waiting_patient(tw)
    assert again.status == Participant.Status.WAITING
    assert again.waiting_since is not None and again.seen_by_host_at is None
    event = AuditEvent.objects.filter(action="telehealth.joined").latest("id")
    assert event.detail == {"rejoined": False}


def test_admitting_one_person_leaves_the_others_waiting(tw: TelehealthWorld) -> None:
    patient = waiting_patient(tw)
    proxy = waiting_patient(tw, tw.world.proxy_user)
    host = video.do_staff_join(Actor(user=tw.world.clinician), host_access(tw), tw.appointment)
    assert (
        video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit, participant_id=proxy.pk)
        == 1
    )
    patient.refresh_from_db()
    proxy.refresh_from_db()
    assert proxy.status == Participant.Status.ADMITTED and proxy.admitted_by == tw.world.clinician
    assert patient.status == Participant.Status.WAITING
    event = AuditEvent.objects.get(action="telehealth.admitted")
    assert event.detail == {"admitted": 1, "participants": [proxy.pk]}
    # Staff and people of another visit are not admitted through an id.
    bobs = video_appointment(tw.sw, tw.world.bob)
    bob = video.do_enter_waiting_room(
        Actor(user=tw.world.bob_user), patient_access(tw.world.bob_user, tw.world.bob), bobs
    )
    for someone in (bob.pk, host.pk, 0, 10**9):
        assert video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit, someone) == 0
    bob.refresh_from_db()
    assert bob.status == Participant.Status.WAITING


@pytest.mark.parametrize("change", ["revoked", "schedule_only"])
def test_a_proxy_whose_right_ended_while_waiting_is_not_admitted(tw: TelehealthWorld, change: str) -> None:
    patient = waiting_patient(tw)
    proxy = waiting_patient(tw, tw.world.proxy_user)
    grants = ProxyGrant.objects.filter(pk=tw.world.proxy_grant.pk)
    if change == "revoked":
        grants.update(revoked_at=timezone.now())
    else:
        grants.update(scopes=[Scope.SCHEDULE, Scope.MESSAGE])
    assert video.do_admit(Actor(user=tw.world.clinician), host_access(tw), patient.visit) == 1
    patient.refresh_from_db()
    proxy.refresh_from_db()
    assert patient.status == Participant.Status.ADMITTED
    assert proxy.status == Participant.Status.WAITING
    assert video.do_admit(Actor(user=tw.world.clinician), host_access(tw), patient.visit, proxy.pk) == 0


def test_readmission_keeps_the_first_admission_time(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    first = patient.admitted_at
    assert video.do_remove_participant(Actor(user=tw.world.clinician), host_access(tw), patient)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit)
    patient.refresh_from_db()
    assert patient.status == Participant.Status.ADMITTED and patient.admitted_at == first


def test_the_host_sends_someone_back_to_the_waiting_room(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    Signal.objects.create(
        visit=host.visit,
        sender=host,
        sender_session=host.session,
        recipient=patient,
        recipient_session=patient.session,
        kind="candidate",
        payload={},
    )
    Signal.objects.create(
        visit=host.visit,
        sender=patient,
        sender_session=patient.session,
        recipient=host,
        recipient_session=host.session,
        kind="candidate",
        payload={},
    )
    assert video.do_remove_participant(Actor(user=tw.world.clinician), host_access(tw), patient)
    patient.refresh_from_db()
    assert patient.status == Participant.Status.WAITING
    assert not Signal.objects.exists()
    event = AuditEvent.objects.get(action="telehealth.removed")
    assert event.patient_id == tw.world.alice.pk and event.detail == {"participant": patient.pk}
    # A reload or a second "Join" does not put them back: only the host does.
    assert waiting_patient(tw).status == Participant.Status.WAITING
    # Nothing to do twice, nor for staff.
    assert not video.do_remove_participant(Actor(user=tw.world.clinician), host_access(tw), patient)
    assert not video.do_remove_participant(Actor(user=tw.world.clinician), host_access(tw), host)
    assert AuditEvent.objects.filter(action="telehealth.removed").count() == 1


def test_a_call_the_clinician_ended_is_no_longer_offered_to_join(tw: TelehealthWorld) -> None:
    from portal.telehealth.access import is_joinable
    from portal.telehealth.templatetags.telehealth import video_join_state

    host, _patient = in_call(tw)
    assert is_joinable(tw.appointment)
    video.do_end_visit(Actor(user=tw.world.clinician), host_access(tw), host.visit)
    fresh = Appointment.objects.get(pk=tw.appointment.pk)
    assert not is_joinable(fresh)
    assert video_join_state(fresh) == ""
