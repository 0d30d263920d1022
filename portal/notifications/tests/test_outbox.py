"""Delivering the outbox: each due message once, never a cancelled one, failures backed off,
and visit reminders going out when their time comes."""

from __future__ import annotations

import datetime as dt
import smtplib
from io import StringIO
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from portal.notifications import outbox
from portal.notifications.models import Notification, OutboxMessage
from portal.notifications.tasks import deliver_outbox
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db


def queue(world: World, channel: str = OutboxMessage.Channel.IN_APP, **fields: Any) -> OutboxMessage:
    defaults: dict[str, Any] = {
        "recipient": world.alice_user,
        "patient": world.alice,
        "channel": channel,
        "subject": "Your appointment is tomorrow",
        "body": "Follow-up visit at 9:00 AM CST (Central time).",
        "link": "/appointments/1/",
        "dedupe_key": f"test:{channel}:{OutboxMessage.objects.count()}",
        "topic": "test",
        "send_after": timezone.now() - dt.timedelta(minutes=1),
    }
    return OutboxMessage.objects.create(**{**defaults, **fields})


def test_a_due_portal_message_is_delivered_once(world: World) -> None:
    message = queue(world)
    assert outbox.deliver_due() == 1
    assert outbox.deliver_due() == 0
    notice = Notification.objects.get()
    assert (notice.recipient, notice.patient, notice.link) == (
        world.alice_user,
        world.alice,
        "/appointments/1/",
    )
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 1


def test_a_due_email_is_sent_once(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    outbox.deliver_due()
    outbox.deliver_due()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    assert "Your appointment is tomorrow" in mail.outbox[0].subject
    assert "Central time" in mail.outbox[0].body
    message.refresh_from_db()
    assert message.sent_at is not None
    assert not Notification.objects.exists()


def test_cancelled_and_future_messages_are_not_sent(world: World) -> None:
    cancelled = queue(world, cancelled_at=timezone.now())
    later = queue(world, OutboxMessage.Channel.EMAIL, send_after=timezone.now() + dt.timedelta(hours=1))
    assert outbox.deliver_due() == 0
    assert not Notification.objects.exists() and not mail.outbox
    cancelled.refresh_from_db()
    later.refresh_from_db()
    assert cancelled.sent_at is None and later.sent_at is None


def test_a_failed_email_backs_off_and_gives_up(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    failure = smtplib.SMTPResponseException(451, b"try again later, alice@example.org")
    with mock.patch("portal.notifications.outbox.send_mail", side_effect=failure):
        before = timezone.now()
        assert outbox.deliver_due() == 0
        message.refresh_from_db()
        assert message.sent_at is None and message.attempts == 1
        assert message.last_error == "SMTPResponseException 451"  # no address, no text
        assert (
            before + dt.timedelta(minutes=2) <= message.send_after <= timezone.now() + dt.timedelta(minutes=2)
        )
        assert outbox.deliver_due() == 0  # not due again yet
        assert OutboxMessage.objects.get(pk=message.pk).attempts == 1
        for attempt in range(2, outbox.MAX_ATTEMPTS + 1):
            outbox.deliver_due(now=timezone.now() + dt.timedelta(days=1))
            message.refresh_from_db()
            assert message.attempts == attempt
        assert message.send_after > timezone.now() + dt.timedelta(minutes=2**outbox.MAX_ATTEMPTS - 1)
        outbox.deliver_due(now=timezone.now() + dt.timedelta(days=30))
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.sent_at is None
    assert not mail.outbox


def test_a_failure_then_success(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    with mock.patch("portal.notifications.outbox.send_mail", side_effect=OSError("connection refused")):
        outbox.deliver_due()
    assert outbox.deliver_due(now=timezone.now() + dt.timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.last_error == "" and message.attempts == 2
    assert len(mail.outbox) == 1


def test_no_address_gives_up_at_once(world: World) -> None:
    world.alice_user.email = ""
    world.alice_user.save(update_fields=["email"])
    message = queue(world, OutboxMessage.Channel.EMAIL)
    outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.last_error == outbox.NO_EMAIL_ADDRESS


def test_text_messages_wait_for_a_provider(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.SMS)
    portal_message = queue(world)
    assert outbox.deliver_due() == 1
    message.refresh_from_db()
    portal_message.refresh_from_db()
    assert message.sent_at is None and message.last_error == outbox.NO_SMS_PROVIDER
    assert portal_message.sent_at is not None


def test_reminders_are_delivered_when_due(world: World) -> None:
    sw = scheduling_world(world)
    appointment = book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    assert OutboxMessage.objects.filter(patient=world.alice).count() == 4  # week and day, portal and email
    assert outbox.deliver_due() == 0
    with time_machine.travel(
        appointment.starts_at - dt.timedelta(hours=168) + dt.timedelta(minutes=1), tick=False
    ):
        assert deliver_outbox.call() == 2
        assert Notification.objects.filter(recipient=world.alice_user).count() == 1
        assert len(mail.outbox) == 1
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=23), tick=False):
        assert deliver_outbox.call() == 2
        assert deliver_outbox.call() == 0
    assert Notification.objects.filter(recipient=world.alice_user).count() == 2
    assert len(mail.outbox) == 2
    assert "Reminder: Alice's appointment" in mail.outbox[0].subject


def test_queuing_a_reminder_schedules_its_delivery(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sw = scheduling_world(world)
    with mock.patch("portal.notifications.tasks.deliver_outbox") as task:
        task.get_backend.return_value.supports_defer = True
        with django_capture_on_commit_callbacks(execute=True):
            appointment = book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    week_before = appointment.starts_at - dt.timedelta(hours=168)
    assert mock.call(run_after=week_before) in task.using.call_args_list
    assert task.using.return_value.enqueue.call_count == 4


def test_the_command_sends_what_is_due(world: World) -> None:
    for _n in range(3):
        queue(world)
    out = StringIO()
    call_command("deliver_outbox", stdout=out)
    assert "Sent 3 message(s)." in out.getvalue()
    assert Notification.objects.count() == 3
