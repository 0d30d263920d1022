"""What every text-message provider does: send one text, at most once per idempotency key."""

from __future__ import annotations

from abc import ABC, abstractmethod

# The outbox's error for a number no provider could text (too short, letters, no country).
INVALID_NUMBER = "invalid number"


class SmsProvider(ABC):
    """Sends text messages for the outbox.

    `send` is called with the outbox's idempotency key for the message; a provider that
    can deduplicate on it (the local one does) makes a retried delivery land once.
    """

    @abstractmethod
    def send(self, to: str, body: str, idempotency_key: str) -> str:
        """Send `body` to the number `to`; returns the provider's reference for the message.

        Raises `SmsError` (retried later) or `PermanentSmsError` (never retried).
        """


class SmsError(Exception):
    """A text could not be sent this time; the outbox retries it with backoff.

    `kind` is what the outbox records as the error: a short code, never the number or
    the text, since provider messages often quote both.
    """

    permanent = False

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class PermanentSmsError(SmsError):
    """Retrying cannot help (an invalid number, a recipient who opted out): give up at once."""

    permanent = True
