"""Test-only delivery pieces: SMS providers the tests plug in, and slow local providers
for the worker the kill test runs as a separate process (`delivery_worker`)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage
from django.test import override_settings
from django.utils import timezone

from portal.notifications.mailbox import IDEMPOTENCY_HEADER, MailboxEmailBackend
from portal.notifications.models import Kind, OutboxMessage
from portal.notifications.sms import registry
from portal.notifications.sms.base import SmsProvider
from portal.notifications.sms.local import LocalSmsProvider
from portal.patients.models import CommunicationPreference, Patient
from portal.test import World

# Long enough that a kill often lands between a provider accepting a message and the
# outbox recording it: the window the lease and the idempotency key exist for.
PAUSE_SECONDS = 0.004
SLOW_PROVIDER = "slow-local"
_names = itertools.count()


@dataclass
class RecordingSmsProvider(SmsProvider):
    """Remembers each text handed to it; raises `error` instead when one is set."""

    error: Exception | None = None
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, body: str, idempotency_key: str) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append((to, body, idempotency_key))
        return f"recorded-{len(self.sent)}"


@contextmanager
def sms_provider(provider: SmsProvider) -> Iterator[SmsProvider]:
    """Use `provider` as the configured SMS provider for the duration."""
    name = f"test-{next(_names)}"
    registry.register(name, lambda: provider)
    with override_settings(PORTAL_SMS_PROVIDER=name):
        yield provider


def note_handed(key: str) -> None:
    """Append the key to `OUTBOX_TEST_HANDED_LOG`: how often each message reached a provider."""
    path = os.environ.get("OUTBOX_TEST_HANDED_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{key}\n")


class SlowMailboxEmailBackend(MailboxEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            note_handed(str(message.extra_headers.get(IDEMPOTENCY_HEADER, "")))
        time.sleep(PAUSE_SECONDS)
        stored = super().send_messages(email_messages)
        time.sleep(PAUSE_SECONDS)
        return stored


class SlowLocalSmsProvider(LocalSmsProvider):
    def send(self, to: str, body: str, idempotency_key: str) -> str:
        note_handed(idempotency_key)
        time.sleep(PAUSE_SECONDS)
        reference = super().send(to, body, idempotency_key)
        time.sleep(PAUSE_SECONDS)
        return reference


def queue_message(world: World, channel: str = OutboxMessage.Channel.IN_APP, **fields: Any) -> OutboxMessage:
    """A due outbox row for Alice's own account, with the fixed outbound wording."""
    defaults: dict[str, Any] = {
        "recipient": world.alice_user,
        "patient": world.alice,
        "channel": channel,
        "kind": Kind.MESSAGES,
        "subject": "New message in your patient portal",
        "body": "You have a new message in the patient portal.",
        "link": "/messages/1/",
        "dedupe_key": f"test:{channel}:{OutboxMessage.objects.count()}",
        "topic": "test",
        "send_after": timezone.now() - dt.timedelta(minutes=1),
    }
    return OutboxMessage.objects.create(**{**defaults, **fields})


def consent_to_texts(
    patient: Patient, number: str = "+15075550199", kinds: Sequence[str] = tuple(Kind.values)
) -> CommunicationPreference:
    """The patient's mobile number, agreed to for texts about `kinds`."""
    patient.mobile_phone = number
    patient.save(update_fields=["mobile_phone"])
    preference, _created = CommunicationPreference.objects.update_or_create(
        patient=patient,
        defaults={
            "sms_updates": True,
            "sms_consented_at": timezone.now(),
            "sms_consented_by": patient.account,
            "sms_consent_phone": number,
            "sms_kinds": list(kinds),
        },
    )
    return preference
