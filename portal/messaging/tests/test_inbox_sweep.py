"""Overdue conversations: the pool is told once per thread and response-time target,
however often the sweep runs."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.messaging import actions, sweep
from portal.messaging.models import Thread, Topic
from portal.messaging.tests.support import (
    MessagingWorld,
    access_for,
    messaging_world,
    staff_reply,
    start_thread,
)
from portal.notifications.models import Notification, OutboxMessage
from portal.notifications.outbound import STAFF_OUTBOUND
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def overdue_told(user: User) -> int:
    return Notification.objects.filter(recipient=user, for_staff=True, title__startswith="Overdue").count()


def later(hours: int) -> time_machine.travel:
    return time_machine.travel(timezone.now() + dt.timedelta(hours=hours))


def test_the_pool_is_told_once_about_an_overdue_thread(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, subject="My HIV test")
    assert sweep.sweep_overdue() == 0  # not due yet
    with later(49):
        assert sweep.sweep_overdue() == 2
        assert sweep.sweep_overdue() == 0
    assert overdue_told(clinic.world.clinician) == 1 and overdue_told(clinic.nurse) == 1
    assert overdue_told(clinic.billing_clerk) == 0 and overdue_told(clinic.world.scheduler) == 0
    notice = Notification.objects.get(recipient=clinic.nurse, title__startswith="Overdue")
    assert notice.link.startswith(f"/staff/inbox/threads/{thread.pk}/")
    emails = OutboxMessage.objects.filter(topic="messaging.overdue", channel=OutboxMessage.Channel.EMAIL)
    assert emails.count() == 2
    for email in emails:
        assert (email.subject, email.body) == STAFF_OUTBOUND and "HIV" not in email.subject + email.body


def test_staff_without_an_email_address_are_told_once_too(clinic: MessagingWorld) -> None:
    User.objects.filter(pk=clinic.nurse.pk).update(email="")
    start_thread(clinic.world)
    with later(49):
        sweep.sweep_overdue()
        sweep.sweep_overdue()
    assert overdue_told(clinic.nurse) == 1


def test_answered_waiting_and_closed_threads_are_not_overdue(clinic: MessagingWorld) -> None:
    answered = start_thread(clinic.world)
    staff_reply(answered, clinic.nurse)
    closed = start_thread(clinic.world)
    Thread.objects.filter(pk=closed.pk).update(status=Thread.Status.CLOSED)
    with later(100):
        assert sweep.sweep_overdue() == 0
    assert not Notification.objects.filter(title__startswith="Overdue").exists()


def test_a_new_target_brings_a_new_reminder(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    with later(49):
        sweep.sweep_overdue()
    staff_reply(thread, clinic.nurse)
    with later(50):
        alice = access_for(clinic.world.alice_user, clinic.world)
        actions.do_reply(Actor.system(), alice, thread, actions.Draft(body="Still ill"))
    with later(50 + 49):
        sweep.sweep_overdue()
        sweep.sweep_overdue()
    # Nina answered, so the thread is hers: she is told, and the rest of the pool too.
    assert overdue_told(clinic.nurse) == 2 and overdue_told(clinic.world.clinician) == 2


def test_a_moved_thread_tells_its_new_pool(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, topic=Topic.APPOINTMENT)
    Thread.objects.filter(pk=thread.pk).update(pool=clinic.billing_office)
    with later(30):
        sweep.sweep_overdue()
    assert overdue_told(clinic.billing_clerk) == 1 and overdue_told(clinic.world.scheduler) == 0


def test_the_command_sweeps_and_sends(clinic: MessagingWorld) -> None:
    start_thread(clinic.world)
    out = io.StringIO()
    with later(49):
        call_command("messaging_sweep", stdout=out)
        call_command("messaging_sweep", stdout=io.StringIO())
    assert "Told 2 member(s) of staff" in out.getvalue()
    assert overdue_told(clinic.nurse) == 1
    assert not OutboxMessage.objects.filter(topic="messaging.overdue", sent_at__isnull=True).exists()
