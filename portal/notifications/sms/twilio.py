"""Twilio: texts sent through Twilio's Messages API with the official `twilio` library.

Configured by `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_FROM_NUMBER`. The
Messages API takes no idempotency key, so the outbox's key is not sent: a worker killed
in the instant between Twilio accepting a text and the outbox recording it can, after
the lease, send that one text again. Every other retry happens only after Twilio said no.

Patients type their numbers as they like ("507-555-0142", "+44 20 7946 0000"); Twilio
wants E.164. `to_e164` turns a 10-digit number (or 11 digits starting with 1) into a US
`+1` number and keeps one written with a leading `+`; anything else is refused before
Twilio is asked, as a permanent "invalid number".

Twilio's errors are sorted into those about the recipient, which no retry can fix (an
invalid or landline number, a number that replied STOP), and the rest (Twilio down, rate
limits, credentials being fixed), which the outbox retries with backoff.
"""

from __future__ import annotations

import re

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.notifications.sms.base import INVALID_NUMBER, PermanentSmsError, SmsError, SmsProvider

# Each request to Twilio gives up after this long: far below the outbox's claim lease
# (`outbox.LEASE`), so a stalled request fails and backs off rather than the text being
# taken over and sent again by another worker.
TIMEOUT_SECONDS = 10.0

# What people put between digits; anything else (letters, extensions) is not a number.
_SEPARATORS = re.compile(r"[\s().\-]")
# E.164: "+", a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# A North American number: area code and exchange start with 2-9, optionally after a 1.
_NANP = re.compile(r"1?([2-9][0-9]{2}[2-9][0-9]{6})")

# Twilio error codes about the recipient's number: sending again cannot succeed.
PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' number
        21214,  # 'To' number cannot be reached
        21217,  # number does not appear to be valid
        21401,  # invalid phone number
        21408,  # sending to the number's region is not enabled
        21610,  # the recipient replied STOP
        21612,  # no route to the number
        21614,  # 'To' is not a mobile number
    }
)


class TwilioSmsProvider(SmsProvider):
    def __init__(
        self, account_sid: str, auth_token: str, from_number: str, http_client: HttpClient | None = None
    ) -> None:
        self.from_number = from_number
        self.client = Client(
            account_sid,
            auth_token,
            # Credentials come from settings only, never from the library reading os.environ.
            environment={},
            http_client=http_client or TwilioHttpClient(timeout=TIMEOUT_SECONDS),
        )

    @classmethod
    def from_settings(cls) -> TwilioSmsProvider:
        missing = missing_settings()
        if missing:
            raise ImproperlyConfigured(f"PORTAL_SMS_PROVIDER=twilio needs {', '.join(missing)}")
        return cls(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER)

    def send(self, to: str, body: str, idempotency_key: str) -> str:
        number = to_e164(to)
        try:
            message = self.client.messages.create(to=number, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            # `from None`: Twilio's message quotes the number, and tracebacks get logged.
            raise error_for(exc.status, exc.code) from None
        except (TwilioException, requests.RequestException, OSError) as exc:
            raise SmsError(f"twilio {type(exc).__name__}") from None
        return str(message.sid or "")


def to_e164(number: str) -> str:
    """The number in E.164 form; `PermanentSmsError("invalid number")` if it cannot be one."""
    compact = _SEPARATORS.sub("", number)
    if _E164.fullmatch(compact):
        return compact
    north_american = _NANP.fullmatch(compact)
    if north_american:
        return f"+1{north_american.group(1)}"
    raise PermanentSmsError(INVALID_NUMBER)


def missing_settings() -> list[str]:
    names = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"]
    return [name for name in names if not getattr(settings, name, "")]


def error_for(status: int, code: int | None) -> SmsError:
    """The outbox's error for a Twilio API refusal: permanent when about the recipient."""
    kind = f"twilio {status} {code}" if code else f"twilio {status}"
    if code in PERMANENT_CODES:
        return PermanentSmsError(kind)
    return SmsError(kind)
