"""Delivering the outbox: each due message once, never a cancelled one, failures backed off,
permanent failures given up at once, a claim left by a dead worker taken over after its
lease with the same key (but not for ever), provider calls timing out well within the
lease, and visit reminders going out when their time comes."""

from __future__ import annotations

import contextlib
import datetime as dt
import smtplib
from io import StringIO
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from portal.notifications import outbox
from portal.notifications.models import Kind, MailboxEntry, Notification, OutboxMessage
from portal.notifications.sms.registry import check_delivery_timeouts
from portal.notifications.tasks import deliver_outbox
from portal.notifications.tests.delivery_support import queue_message
from portal.patients.models import CommunicationPreference
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db

MAILBOX_BACKEND = "portal.notifications.mailbox.MailboxEmailBackend"


class WorkerKilled(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the outbox catches it."""


def queue(world: World, channel: str = OutboxMessage.Channel.IN_APP, **fields: Any) -> OutboxMessage:
    return queue_message(world, channel, **fields)


def test_a_due_portal_message_is_delivered_once(world: World) -> None:
    message = queue(world)
    assert outbox.deliver_due() == 1
    assert outbox.deliver_due() == 0
    notice = Notification.objects.get()
    assert (notice.recipient, notice.patient, notice.link, notice.for_staff) == (
        world.alice_user,
        world.alice,
        "/messages/1/",
        False,
    )
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 1


def test_a_staff_portal_message_stays_in_the_staff_workspace(world: World) -> None:
    queue(world, recipient=world.clinician, patient=None, kind="", for_staff=True)
    assert outbox.deliver_due() == 1
    assert Notification.objects.get().for_staff


def test_a_due_email_is_sent_once(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    outbox.deliver_due()
    outbox.deliver_due()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.org"]
    assert "New message in your patient portal" in mail.outbox[0].subject
    assert "Sign in to see it: http://127.0.0.1:8000/messages/1/" in mail.outbox[0].body
    message.refresh_from_db()
    assert message.sent_at is not None and message.claimed_at is not None
    assert message.provider_reference == f"<outbox-{message.pk}@127.0.0.1>"
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
    with mock.patch.object(EmailMessage, "send", side_effect=failure):
        before = timezone.now()
        assert outbox.deliver_due() == 0
        message.refresh_from_db()
        assert message.sent_at is None and message.attempts == 1 and message.claimed_at is None
        assert message.last_error == "SMTPResponseException 451"  # no address, no text
        assert (
            before + dt.timedelta(minutes=2) <= message.send_after <= timezone.now() + dt.timedelta(minutes=2)
        )
        assert outbox.deliver_due() == 0  # not due again yet
        assert OutboxMessage.objects.get(pk=message.pk).attempts == 1
        waits = []
        for attempt in range(2, outbox.MAX_ATTEMPTS + 1):
            tried_at = timezone.now()
            outbox.deliver_due(now=timezone.now() + dt.timedelta(days=1))
            message.refresh_from_db()
            assert message.attempts == attempt
            waits.append(round((message.send_after - tried_at).total_seconds() / 60))
        assert waits == [2**attempt for attempt in range(2, outbox.MAX_ATTEMPTS + 1)]
        outbox.deliver_due(now=timezone.now() + dt.timedelta(days=30))
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.sent_at is None
    assert not mail.outbox


def test_a_failure_then_success(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    with mock.patch.object(EmailMessage, "send", side_effect=OSError("connection refused")):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.last_error == "OSError"
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


def test_a_refused_address_gives_up_at_once_and_records_no_address(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    refused = smtplib.SMTPRecipientsRefused({"alice@example.org": (550, b"no such user alice")})
    with mock.patch.object(EmailMessage, "send", side_effect=refused):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.sent_at is None
    assert message.last_error == "SMTPRecipientsRefused 550"


def test_a_temporarily_refused_address_is_retried(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    refused = smtplib.SMTPRecipientsRefused({"alice@example.org": (450, b"mailbox busy")})
    with mock.patch.object(EmailMessage, "send", side_effect=refused):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == 1 and message.last_error == "SMTPRecipientsRefused 450"


@override_settings(EMAIL_BACKEND=MAILBOX_BACKEND)
def test_a_claim_left_by_a_dead_worker_is_sent_once_after_its_lease(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    # The mail backend accepted it, then the worker died before recording it.
    with (
        mock.patch("portal.notifications.outbox._record_sent", side_effect=WorkerKilled),
        pytest.raises(WorkerKilled),
    ):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.claimed_at is not None and message.sent_at is None and message.attempts == 1
    assert MailboxEntry.objects.count() == 1
    # Still within its lease: no other worker takes it.
    assert outbox.deliver_due(now=timezone.now() + outbox.LEASE - dt.timedelta(seconds=5)) == 0
    assert outbox.deliver_due(now=timezone.now() + outbox.LEASE + dt.timedelta(seconds=1)) == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 2
    entry = MailboxEntry.objects.get()  # the same key: delivered once
    assert entry.idempotency_key == f"outbox-{message.pk}:alice@example.org"


def test_a_claim_left_before_the_provider_saw_it_is_sent_after_its_lease(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    with mock.patch.object(EmailMessage, "send", side_effect=WorkerKilled), pytest.raises(WorkerKilled):
        outbox.deliver_due()
    assert not mail.outbox
    assert outbox.deliver_due(now=timezone.now() + outbox.LEASE + dt.timedelta(seconds=1)) == 1
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.sent_at is not None


def test_a_message_recorded_by_another_worker_is_not_recorded_twice(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    real_send = EmailMessage.send

    def slow_send(email: EmailMessage, fail_silently: bool = False) -> int:
        # Meanwhile a worker that took over the claim finished the message.
        OutboxMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now(), provider_reference="other")
        return real_send(email, fail_silently)

    with mock.patch.object(EmailMessage, "send", slow_send):
        assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.provider_reference == "other"


def test_a_message_no_longer_wanted_is_cancelled_not_sent(world: World) -> None:
    CommunicationPreference.objects.create(patient=world.alice, email_kinds=[Kind.RESULTS])
    message = queue(world, OutboxMessage.Channel.EMAIL)
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.cancelled_at is not None and message.attempts == 0 and not mail.outbox


def test_a_proxy_without_the_kinds_scope_gets_no_email(world: World) -> None:
    # Pat may view and message for Alice, not see her bills.
    billing = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.proxy_user, kind=Kind.BILLING)
    messages = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.proxy_user, kind=Kind.MESSAGES)
    assert outbox.deliver_due() == 1
    billing.refresh_from_db()
    messages.refresh_from_db()
    assert billing.cancelled_at is not None and messages.sent_at is not None
    assert [email.to for email in mail.outbox] == [["pat@example.org"]]


def test_a_proxy_whose_access_ended_gets_nothing(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.proxy_user)
    world.proxy_grant.revoked_at = timezone.now()
    world.proxy_grant.save(update_fields=["revoked_at"])
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.cancelled_at is not None and not mail.outbox


def test_staff_email_goes_only_to_active_staff(world: World) -> None:
    staff = {"for_staff": True, "patient": None, "kind": ""}
    to_clinician = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.clinician, **staff)
    to_patient = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.bob_user, **staff)
    world.unassigned_staff.is_active = False
    world.unassigned_staff.save(update_fields=["is_active"])
    to_inactive = queue(world, OutboxMessage.Channel.EMAIL, recipient=world.unassigned_staff, **staff)
    assert outbox.deliver_due() == 1
    for message in (to_clinician, to_patient, to_inactive):
        message.refresh_from_db()
    assert to_clinician.sent_at is not None
    assert to_patient.cancelled_at is not None and to_inactive.cancelled_at is not None
    assert [email.to for email in mail.outbox] == [["carol@example.org"]]


def test_text_messages_wait_for_a_provider(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.SMS)
    portal_message = queue(world)
    with override_settings(PORTAL_SMS_PROVIDER=""):
        assert outbox.deliver_due() == 1
    message.refresh_from_db()
    portal_message.refresh_from_db()
    assert message.sent_at is None and message.last_error == outbox.NO_SMS_PROVIDER
    assert message.attempts == 0 and message.cancelled_at is None
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
    assert "List-Unsubscribe" in mail.outbox[0].extra_headers


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


def test_the_command_sends_what_is_due(world: World) -> None:
    for _n in range(3):
        queue(world)
    queue(world, OutboxMessage.Channel.EMAIL)
    out = StringIO()
    call_command("deliver_outbox", stdout=out)
    assert "Sent 4 message(s)." in out.getvalue()
    assert Notification.objects.count() == 3 and len(mail.outbox) == 1


def test_an_expired_claim_gets_one_more_try_after_the_last_attempt(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    expired = timezone.now() - outbox.LEASE - dt.timedelta(seconds=1)
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS, claimed_at=expired)
    assert outbox.deliver_due() == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == outbox.MAX_ATTEMPTS + 1


def test_a_send_that_keeps_stopping_its_worker_is_given_up(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    handed = 0
    now = timezone.now()

    def stall(email: EmailMessage, fail_silently: bool = False) -> int:
        nonlocal handed
        handed += 1
        raise WorkerKilled  # the worker never comes back from the mail server

    with mock.patch.object(EmailMessage, "send", stall):
        for _round in range(outbox.MAX_ATTEMPTS + 5):
            now += outbox.LEASE + dt.timedelta(seconds=1)
            with time_machine.travel(now, tick=False), contextlib.suppress(WorkerKilled):
                outbox.deliver_due(now=now)
    # Taken over after each expired lease, up to one try past MAX_ATTEMPTS, then left.
    assert handed == outbox.MAX_ATTEMPTS + 1
    message.refresh_from_db()
    assert message.sent_at is None and message.claimed_at is None
    assert message.attempts == outbox.MAX_ATTEMPTS + 1
    assert message.last_error == outbox.WORKER_STOPPED
    assert outbox.deliver_due(now=now + dt.timedelta(days=30)) == 0
    assert not mail.outbox


def test_a_claim_still_within_its_lease_is_not_given_up(world: World) -> None:
    message = queue(world, OutboxMessage.Channel.EMAIL)
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=outbox.MAX_ATTEMPTS + 1, claimed_at=timezone.now()
    )
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.claimed_at is not None and message.last_error == ""


def test_smtp_gives_up_long_before_the_lease() -> None:
    assert settings.EMAIL_TIMEOUT == 30
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"):
        connection = get_connection()
    assert isinstance(connection, SmtpBackend) and connection.timeout == settings.EMAIL_TIMEOUT
    assert check_delivery_timeouts() == []


@pytest.mark.parametrize("timeout", [None, 0, -1, 600, "30"])
def test_an_email_timeout_not_well_inside_the_lease_fails_the_startup_check(timeout: object) -> None:
    with override_settings(EMAIL_TIMEOUT=timeout):
        assert [error.id for error in check_delivery_timeouts()] == ["notifications.E003"]
