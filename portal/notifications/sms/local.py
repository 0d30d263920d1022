"""The local provider: texts land in the demo mailbox (`MailboxEntry`) instead of a phone.

Used by the demo and the tests. Like a real provider that deduplicates, a second send
with the same idempotency key stores nothing new and answers the first reference.
"""

from __future__ import annotations

import re

from portal.notifications.models import MailboxEntry, OutboxMessage
from portal.notifications.sms.base import INVALID_NUMBER, PermanentSmsError, SmsProvider

# Fewer digits than this cannot be a phone number anywhere; a real provider refuses it too.
MIN_DIGITS = 7


class LocalSmsProvider(SmsProvider):
    def send(self, to: str, body: str, idempotency_key: str) -> str:
        if len(re.sub(r"\D", "", to)) < MIN_DIGITS:
            raise PermanentSmsError(INVALID_NUMBER)
        entry, _created = MailboxEntry.objects.get_or_create(
            idempotency_key=idempotency_key[:200],
            defaults={"channel": OutboxMessage.Channel.SMS, "to": to[:254], "body": body},
        )
        return f"local-{entry.pk}"
