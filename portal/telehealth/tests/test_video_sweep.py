"""Closing video visits left open past their window, by the worker's task and `portal telehealth_sweep`."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from portal.audit.models import AuditEvent
from portal.telehealth import tasks
from portal.telehealth.models import Participant, Signal, VideoVisit
from portal.telehealth.tests.support import TelehealthWorld, in_call, telehealth_world
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def _signal(host: Participant, patient: Participant) -> None:
    Signal.objects.create(
        visit=host.visit,
        sender=host,
        sender_session="a",
        recipient=patient,
        recipient_session="b",
        kind="candidate",
        payload={"candidate": ""},
    )


def test_a_visit_inside_its_window_stays_open(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    _signal(host, patient)
    assert tasks.sweep() == {"closed": 0, "signals_deleted": 0}
    assert not tasks.close_visit.call(host.visit_id)
    assert VideoVisit.objects.get().status == VideoVisit.Status.IN_PROGRESS


def test_the_sweep_closes_a_visit_left_open_and_deletes_its_signaling(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    _signal(host, patient)
    with time_machine.travel(tw.appointment.ends_at + dt.timedelta(hours=2)):
        call_command("telehealth_sweep", stdout=open("/dev/null", "w"))  # noqa: SIM115
        assert tasks.sweep()["closed"] == 0  # a second run finds nothing
    assert VideoVisit.objects.get().status == VideoVisit.Status.ENDED
    assert set(Participant.objects.values_list("status", flat=True)) == {Participant.Status.LEFT}
    assert not Signal.objects.exists()
    assert AuditEvent.objects.filter(action="telehealth.closed", patient=tw.world.alice).count() == 1


def test_the_task_closes_one_visit(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    with time_machine.travel(tw.appointment.ends_at + dt.timedelta(hours=2)):
        assert tasks.close_visit.call(host.visit_id)
        assert not tasks.close_visit.call(host.visit_id)
