"""`require_recent_auth`: sensitive actions need a sign-in or re-authentication in the last minutes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from portal.accounts.tests.helpers import enable_totp, sign_in, sign_in_with_totp, totp_code, verify_email
from portal.audit.models import AuditEvent
from portal.test import PASSWORD, World

pytestmark = [pytest.mark.django_db, pytest.mark.urls("portal.accounts.tests.urls")]

EVERYTHING = "/test/everything/"
PAYMENT = "/test/payment-methods/"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(world: World, clock: time_machine.Traveller) -> Client:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    return client


def reauthenticate_url(next_url: str) -> str:
    return f"{reverse('account_reauthenticate')}?next={quote(next_url, safe='')}"


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(EVERYTHING)
    assert response["Location"].startswith(reverse("account_login"))


def test_a_fresh_sign_in_counts_as_recent(alice: Client) -> None:
    assert alice.get(EVERYTHING).content == b"everything, GET"


def test_after_five_minutes_the_user_must_confirm_again(alice: Client, clock: time_machine.Traveller) -> None:
    clock.shift(dt.timedelta(minutes=5, seconds=1))
    response = alice.get(EVERYTHING)
    assert response["Location"] == reauthenticate_url(EVERYTHING)
    page = alice.get(response["Location"]).content.decode()
    assert "Confirm it is you" in page

    back = alice.post(response["Location"], {"password": PASSWORD})
    assert back["Location"] == EVERYTHING
    assert alice.get(EVERYTHING).content == b"everything, GET"
    assert AuditEvent.objects.filter(action="auth.reauthenticate").exists()


def test_a_session_that_never_proved_anything_must_confirm(world: World, client: Client) -> None:
    client.force_login(world.alice_user)
    assert client.get(EVERYTHING)["Location"] == reauthenticate_url(EVERYTHING)


def test_a_wrong_password_does_not_confirm_and_is_audited(
    alice: Client, clock: time_machine.Traveller
) -> None:
    clock.shift(dt.timedelta(minutes=6))
    response = alice.post(reauthenticate_url(EVERYTHING), {"password": "not-the-password"})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert alice.get(EVERYTHING)["Location"] == reauthenticate_url(EVERYTHING)
    assert AuditEvent.objects.filter(action="auth.sign_in", outcome="failure").exists()


def test_a_post_waits_for_the_confirmation_and_then_goes_through(
    alice: Client, clock: time_machine.Traveller
) -> None:
    clock.shift(dt.timedelta(minutes=6))
    response = alice.post(PAYMENT, {"card": "4242"})
    assert response["Location"] == reauthenticate_url(PAYMENT)
    replayed = alice.post(response["Location"], {"password": PASSWORD})
    assert replayed.content == b"payment methods, POST 4242"


def test_allow_get_lets_the_page_show_without_confirming(
    alice: Client, clock: time_machine.Traveller
) -> None:
    clock.shift(dt.timedelta(minutes=6))
    assert alice.get(PAYMENT).content == b"payment methods, GET "


def test_two_factor_users_may_confirm_with_their_app(world: World, clock: time_machine.Traveller) -> None:
    verify_email(world.alice_user)
    secret = enable_totp(world.alice_user)
    client = Client()
    sign_in_with_totp(client, world.alice_user, secret)
    clock.shift(dt.timedelta(minutes=6))
    page = client.get(reauthenticate_url(EVERYTHING)).content.decode()
    assert reverse("mfa_reauthenticate") in page
    clock.shift(dt.timedelta(seconds=30))
    back = client.post(f"{reverse('mfa_reauthenticate')}?next={EVERYTHING}", {"code": totp_code(secret)})
    assert back["Location"] == EVERYTHING
    assert client.get(EVERYTHING).content == b"everything, GET"


def test_adding_an_email_address_needs_a_recent_confirmation(
    alice: Client, clock: time_machine.Traveller
) -> None:
    clock.shift(dt.timedelta(minutes=6))
    response = alice.post(reverse("account_email"), {"action_add": "", "email": "new@example.org"})
    assert response["Location"].startswith(reverse("account_reauthenticate"))
