"""The Twilio provider, through the official library against a fake transport (no network):
the request it makes (numbers in E.164, a timeout well within the outbox's lease), and how
Twilio's refusals and numbers that cannot be texted become retryable or permanent errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from logging import getLogger
from typing import Any
from unittest import mock

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from twilio.http import HttpClient
from twilio.http.response import Response

from portal.notifications import outbox
from portal.notifications.models import OutboxMessage
from portal.notifications.sms import registry
from portal.notifications.sms.base import INVALID_NUMBER, PermanentSmsError, SmsError
from portal.notifications.sms.twilio import TIMEOUT_SECONDS, TwilioSmsProvider, to_e164
from portal.notifications.tests.delivery_support import consent_to_texts, queue_message, sms_provider
from portal.test import World

ACCOUNT = "AC00000000000000000000000000000001"
TOKEN = "not-a-real-token"
FROM = "+15005550006"
TO = "+15075550199"


@dataclass
class Sent:
    method: str
    uri: str
    data: dict[str, object]
    auth: tuple[str, str] | None


class FakeTwilio(HttpClient):
    """Answers like Twilio's API would, and remembers what it was asked."""

    def __init__(self, status: int = 201, answer: dict[str, Any] | None = None) -> None:
        super().__init__(getLogger("test.twilio"), is_async=False)
        self.status = status
        self.answer = answer or {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}
        self.requests: list[Sent] = []

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(Sent(method, uri, dict(data or {}), auth))
        return Response(self.status, json.dumps(self.answer))


class BrokenNetwork(FakeTwilio):
    def request(self, *args: Any, **kwargs: Any) -> Response:
        raise requests.ConnectionError(f"could not reach api.twilio.com for {TO}")


def provider(transport: HttpClient) -> TwilioSmsProvider:
    return TwilioSmsProvider(ACCOUNT, TOKEN, FROM, http_client=transport)


def test_it_posts_to_from_and_body_with_the_account_credentials() -> None:
    transport = FakeTwilio()
    reference = provider(transport).send(TO, "You have a new message.", "outbox-7")
    assert reference == "SM0123456789abcdef0123456789abcdef"
    (sent,) = transport.requests
    assert sent.method == "POST"
    assert sent.uri == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent.data == {"To": TO, "From": FROM, "Body": "You have a new message."}
    assert sent.auth == (ACCOUNT, TOKEN)


def refusal(status: int, code: int | None) -> FakeTwilio:
    answer = {"code": code, "message": f"The 'To' number {TO} is not valid.", "status": status}
    return FakeTwilio(status=status, answer=answer)


@pytest.mark.parametrize("code", [21211, 21614, 21610])
def test_a_refusal_about_the_recipient_is_permanent(code: int) -> None:
    with pytest.raises(PermanentSmsError) as raised:
        provider(refusal(400, code)).send(TO, "Hello", "outbox-1")
    assert raised.value.kind == f"twilio 400 {code}"
    assert TO not in str(raised.value) and raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, "twilio 429 20429"),  # too many requests
        (503, None, "twilio 503"),  # Twilio down
        (401, 20003, "twilio 401 20003"),  # credentials, being fixed
    ],
)
def test_other_refusals_are_retried(status: int, code: int | None, kind: str) -> None:
    with pytest.raises(SmsError) as raised:
        provider(refusal(status, code)).send(TO, "Hello", "outbox-1")
    assert not raised.value.permanent
    assert raised.value.kind == kind


def test_a_network_failure_is_retried_without_quoting_the_number() -> None:
    with pytest.raises(SmsError) as raised:
        provider(BrokenNetwork()).send(TO, "Hello", "outbox-1")
    assert not raised.value.permanent
    assert raised.value.kind == "twilio ConnectionError"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_registry_builds_it_from_settings() -> None:
    settings_for_twilio = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": FROM,
    }
    with override_settings(PORTAL_SMS_PROVIDER="twilio", **settings_for_twilio):
        built = registry.get_provider()
    assert isinstance(built, TwilioSmsProvider) and built.from_number == FROM
    with (
        override_settings(PORTAL_SMS_PROVIDER="twilio", TWILIO_FROM_NUMBER=""),
        pytest.raises(ImproperlyConfigured),
    ):
        registry.get_provider()


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+15075550199", "+15075550199"),
        ("+1 (507) 555-0199", "+15075550199"),
        ("507-555-0199", "+15075550199"),
        ("(507) 555 0199", "+15075550199"),
        ("507.555.0199", "+15075550199"),
        ("1-507-555-0199", "+15075550199"),
        ("+44 20 7946 0000", "+442079460000"),
        ("+44 (0)20 7946 0000", "+4402079460000"),  # Twilio may refuse it: then permanently
        ("+683 4002", "+6834002"),
    ],
)
def test_numbers_are_sent_in_e164(typed: str, e164: str) -> None:
    assert to_e164(typed) == e164
    transport = FakeTwilio()
    provider(transport).send(typed, "Hello", "outbox-1")
    assert transport.requests[0].data["To"] == e164


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "555-0199",  # no area code
        "020 7946 0000",  # a national number without its country
        "107-555-0199",  # no North American area code starts with 0 or 1
        "507-155-0199",  # nor exchange
        "2-507-555-0199",
        "+0 507 555 0199",
        "+1234567890123456",  # longer than E.164 allows
        "+12345",
        "507-555-0199 ext 12",
        "+1 507 555 0199 #",
        "\uff15\uff10\uff17\uff15\uff15\uff15\uff10\uff11\uff19\uff19",  # full-width digits
        "+15075550199\n+15075550100",
    ],
)
def test_a_number_that_cannot_be_e164_is_refused_before_twilio_is_asked(typed: str) -> None:
    transport = FakeTwilio()
    with pytest.raises(PermanentSmsError) as raised:
        provider(transport).send(typed, "Hello", "outbox-1")
    assert raised.value.kind == INVALID_NUMBER == "invalid number"
    assert not transport.requests


@pytest.mark.django_db
def test_the_outbox_gives_up_a_text_to_an_invalid_number_at_once(world: World) -> None:
    consent_to_texts(world.alice, "555-0199")
    message = queue_message(world, OutboxMessage.Channel.SMS)
    transport = FakeTwilio()
    with sms_provider(provider(transport)):
        outbox.deliver_due()
    message.refresh_from_db()
    assert message.attempts == outbox.MAX_ATTEMPTS and message.last_error == INVALID_NUMBER
    assert message.sent_at is None and not transport.requests


@pytest.mark.django_db
def test_the_outbox_texts_a_us_number_as_typed_in_e164(world: World) -> None:
    consent_to_texts(world.alice, "507-555-0199")
    queue_message(world, OutboxMessage.Channel.SMS)
    transport = FakeTwilio()
    with sms_provider(provider(transport)):
        assert outbox.deliver_due() == 1
    assert [sent.data["To"] for sent in transport.requests] == ["+15075550199"]


def test_each_request_to_twilio_times_out_well_within_the_lease() -> None:
    built = TwilioSmsProvider(ACCOUNT, TOKEN, FROM)
    answer = requests.Response()
    answer.status_code = 201
    answer._content = json.dumps({"sid": "SM1", "status": "queued"}).encode()
    answer.encoding = "utf-8"
    with mock.patch.object(requests.Session, "send", return_value=answer) as send:
        assert built.send(TO, "Hello", "outbox-1") == "SM1"
    timeout = send.call_args.kwargs["timeout"]
    assert timeout == TIMEOUT_SECONDS and 0 < timeout <= outbox.LEASE.total_seconds() / 2
