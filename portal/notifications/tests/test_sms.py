"""Text messages: sent through the configured provider only with recorded consent, to the
number consented to, with the fixed wording; cancelled when consent or the number
changes; failures retried or given up; the provider chosen by name and checked at startup."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from portal.notifications import outbox
from portal.notifications.models import Kind, MailboxEntry, OutboxMessage
from portal.notifications.sms import registry
from portal.notifications.sms.base import PermanentSmsError, SmsError
from portal.notifications.sms.local import LocalSmsProvider
from portal.notifications.tests.delivery_support import (
    RecordingSmsProvider,
    consent_to_texts,
    queue_message,
    sms_provider,
)
from portal.test import World

pytestmark = pytest.mark.django_db

NUMBER = "+15075550199"


class WorkerKilled(BaseException):
    """Stands for the process dying."""


def test_a_consented_text_goes_to_the_consented_number_once(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    assert outbox.deliver_due() == 1
    assert outbox.deliver_due() == 0
    entry = MailboxEntry.objects.get()
    assert (entry.channel, entry.to, entry.idempotency_key) == ("sms", NUMBER, f"outbox-{message.pk}")
    # The fixed wording and a link: no name, no detail.
    assert entry.body == (
        "You have a new message in the patient portal. Sign in to see it: http://127.0.0.1:8000/messages/1/"
    )
    message.refresh_from_db()
    assert message.sent_at is not None and message.provider_reference == f"local-{entry.pk}"


def test_the_provider_gets_the_outbox_key(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    with sms_provider(RecordingSmsProvider()) as provider:
        outbox.deliver_due()
    assert isinstance(provider, RecordingSmsProvider)
    assert [(to, key) for to, _body, key in provider.sent] == [(NUMBER, f"outbox-{message.pk}")]


def test_no_consent_no_text(world: World) -> None:
    message = queue_message(world, OutboxMessage.Channel.SMS)
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.cancelled_at is not None and not MailboxEntry.objects.exists()


def test_withdrawn_consent_cancels_a_queued_text(world: World) -> None:
    preference = consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    preference.sms_updates = False
    preference.save(update_fields=["sms_updates"])
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.cancelled_at is not None and not MailboxEntry.objects.exists()


def test_a_changed_number_cancels_a_queued_text(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    world.alice.mobile_phone = "+15075550123"  # not agreed to
    world.alice.save(update_fields=["mobile_phone"])
    assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.cancelled_at is not None and not MailboxEntry.objects.exists()


def test_a_kind_without_text_consent_is_not_texted(world: World) -> None:
    consent_to_texts(world.alice, NUMBER, kinds=[Kind.APPOINTMENTS])
    messages = queue_message(world, OutboxMessage.Channel.SMS, kind=Kind.MESSAGES)
    visits = queue_message(world, OutboxMessage.Channel.SMS, kind=Kind.APPOINTMENTS)
    assert outbox.deliver_due() == 1
    messages.refresh_from_db()
    visits.refresh_from_db()
    assert messages.cancelled_at is not None and visits.sent_at is not None


def test_an_invalid_number_gives_up_at_once(world: World) -> None:
    consent_to_texts(world.alice, "12")
    message = queue_message(world, OutboxMessage.Channel.SMS)
    outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.last_error == "invalid number"
    assert message.sent_at is None and not MailboxEntry.objects.exists()


def test_a_failed_text_backs_off_then_goes(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    provider = RecordingSmsProvider(error=SmsError("twilio 503"))
    with sms_provider(provider):
        outbox.deliver_due()
        message.refresh_from_db()
        assert message.last_error == "twilio 503" and message.attempts == 1 and message.claimed_at is None
        assert message.send_after > timezone.now() + dt.timedelta(minutes=1)
        assert outbox.deliver_due() == 0
        provider.error = None
        assert outbox.deliver_due(now=timezone.now() + dt.timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 2 and message.last_error == ""
    assert len(provider.sent) == 1


def test_a_permanent_provider_error_stops_at_once(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    with sms_provider(RecordingSmsProvider(error=PermanentSmsError("twilio 400 21610"))):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.last_error == "twilio 400 21610"


def test_a_text_claimed_by_a_dead_worker_is_delivered_once(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    with (
        mock.patch("portal.notifications.outbox._record_sent", side_effect=WorkerKilled),
        pytest.raises(WorkerKilled),
    ):
        outbox.deliver_due()
    assert outbox.deliver_due(now=timezone.now() + outbox.LEASE + dt.timedelta(seconds=1)) == 1
    assert MailboxEntry.objects.filter(idempotency_key=f"outbox-{message.pk}").count() == 1
    assert MailboxEntry.objects.count() == 1


def test_the_local_provider_stores_one_text_per_key() -> None:
    provider = LocalSmsProvider()
    first = provider.send(NUMBER, "Hello", "key-1")
    again = provider.send(NUMBER, "Hello", "key-1")
    other = provider.send(NUMBER, "Hello", "key-2")
    assert first == again != other
    assert MailboxEntry.objects.filter(channel="sms").count() == 2


def test_an_unknown_provider_fails_the_startup_check_and_delivery(world: World) -> None:
    consent_to_texts(world.alice, NUMBER)
    message = queue_message(world, OutboxMessage.Channel.SMS)
    with override_settings(PORTAL_SMS_PROVIDER="carrier-pigeon"):
        assert [error.id for error in registry.check_sms_provider()] == ["notifications.E001"]
        with pytest.raises(ImproperlyConfigured):
            registry.get_provider()
        outbox.deliver_due()
    message.refresh_from_db()
    # Retried once the configuration is fixed, not lost.
    assert message.sent_at is None and message.last_error == "ImproperlyConfigured" and message.attempts == 1


def test_twilio_without_its_settings_fails_the_startup_check() -> None:
    with override_settings(PORTAL_SMS_PROVIDER="twilio", TWILIO_AUTH_TOKEN=""):
        assert [error.id for error in registry.check_sms_provider()] == ["notifications.E002"]
        with pytest.raises(ImproperlyConfigured):
            registry.get_provider()


def test_known_providers_pass_the_check() -> None:
    for name in ("", "local"):
        with override_settings(PORTAL_SMS_PROVIDER=name):
            assert registry.check_sms_provider() == []
    twilio = {
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "secret",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    with override_settings(PORTAL_SMS_PROVIDER="twilio", **twilio):
        assert registry.check_sms_provider() == []
