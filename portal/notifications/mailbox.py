"""The local email backend: emails land in the demo mailbox (`MailboxEntry`) instead of being sent.

Development uses it so a newcomer can follow activation and notification emails at
/demo/mailbox/. A message carrying the `IDEMPOTENCY_HEADER` (the outbox sets it) is
stored once however many times it is delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import make_msgid

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from portal.notifications.models import MailboxEntry, OutboxMessage

IDEMPOTENCY_HEADER = "X-Portal-Idempotency-Key"


class MailboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        stored = 0
        for message in email_messages:
            key = message.extra_headers.get(IDEMPOTENCY_HEADER) or make_msgid()
            for address in message.recipients():
                MailboxEntry.objects.get_or_create(
                    idempotency_key=f"{key}:{address}"[:200],
                    defaults={
                        "channel": OutboxMessage.Channel.EMAIL,
                        "to": address[:254],
                        "subject": str(message.subject)[:300],
                        "body": str(message.body),
                    },
                )
                stored += 1
        return stored
