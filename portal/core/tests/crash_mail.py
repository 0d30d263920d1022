"""The crash test's email provider: the demo mailbox (one entry per idempotency key), slowed
down after it has taken a message, so a worker killed at random often dies in the window
between the provider accepting an email and the outbox recording it as sent. Each call is
appended to the file `CRASH_SEND_LOG` names, so the test can see the resends."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from django.core.mail import EmailMessage

from portal.notifications.mailbox import IDEMPOTENCY_HEADER, MailboxEmailBackend

# Long enough to be hit by a kill now and then, short enough for the test's time.
HOLD_SECONDS = 0.3


class SlowMailboxBackend(MailboxEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        stored = super().send_messages(email_messages)
        log = os.environ.get("CRASH_SEND_LOG", "")
        if log:
            with open(log, "a", encoding="utf-8") as calls:
                for message in email_messages:
                    calls.write(f"{message.extra_headers.get(IDEMPOTENCY_HEADER, '')}\n")
        time.sleep(HOLD_SECONDS)
        return stored
