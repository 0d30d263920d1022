"""Throttling and lockout: slowed after 5 failures, locked at 20, unlocked by time or reset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import SignInThrottle
from portal.accounts.tests.helpers import (
    challenge_answer,
    enable_totp,
    sign_in,
    verify_email,
    without_per_render_tokens,
)
from portal.audit.models import AuditEvent
from portal.test import PASSWORD, World

pytestmark = pytest.mark.django_db

DELAY = dt.timedelta(seconds=31)
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def verified(world: World) -> None:
    verify_email(world.alice_user, world.bob_user)


def fail(client: Client, clock: time_machine.Traveller, times: int, username: str = "alice") -> None:
    """Fail `times` times, waiting out the slow-down between attempts as a patient person would."""
    for _attempt in range(times):
        response = sign_in(client, username, "not-the-password")
        assert "not correct" in response.content.decode()
        clock.shift(DELAY)


def test_five_failures_slow_the_next_attempt_down(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    for _attempt in range(5):
        assert "not correct" in sign_in(client, "alice", "not-the-password").content.decode()
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 200
    assert "Wait 30 seconds" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.sign_in", outcome="denied").count() == 1

    clock.shift(DELAY)
    assert sign_in(client, "alice", PASSWORD)["Location"] == reverse("home")
    assert not SignInThrottle.objects.filter(scope="account").exists()


def test_four_failures_do_not_slow_anything(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    for _attempt in range(4):
        sign_in(client, "alice", "not-the-password")
    assert sign_in(client, "alice", PASSWORD)["Location"] == reverse("home")


def test_twenty_failures_lock_the_account_even_with_the_right_password(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(client, clock, 20)
    response = sign_in(client, "alice", PASSWORD)
    assert "locked" in response.content.decode()
    assert "30 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.lockout").count() == 2  # the username and the address


def test_nineteen_failures_do_not_lock(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(client, clock, 19)
    assert sign_in(client, "alice", PASSWORD)["Location"] == reverse("home")


def test_a_lock_on_one_username_does_not_lock_another_from_elsewhere(
    world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(Client(REMOTE_ADDR="203.0.113.9"), clock, 20)
    assert sign_in(Client(REMOTE_ADDR="198.51.100.7"), "bob", PASSWORD)["Location"] == reverse("home")
    assert "locked" in sign_in(Client(REMOTE_ADDR="198.51.100.7"), "alice", PASSWORD).content.decode()


def test_the_client_address_is_locked_too(
    world: World, verified: None, clock: time_machine.Traveller
) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for number in range(20):
        sign_in(attacker, f"guess-{number}", "not-the-password")
        clock.shift(DELAY)
    assert "locked" in sign_in(attacker, "bob", PASSWORD).content.decode()
    assert sign_in(Client(REMOTE_ADDR="198.51.100.7"), "bob", PASSWORD)["Location"] == reverse("home")


def test_the_lock_opens_by_itself_after_thirty_minutes(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(client, clock, 20)
    clock.shift(dt.timedelta(minutes=29))
    assert "locked" in sign_in(client, "alice", PASSWORD).content.decode()
    clock.shift(dt.timedelta(minutes=1, seconds=1))
    assert sign_in(client, "alice", PASSWORD)["Location"] == reverse("home")


def test_failures_are_forgotten_after_a_quiet_spell(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(client, clock, 19)
    clock.shift(dt.timedelta(minutes=31))
    fail(client, clock, 1)
    assert sign_in(client, "alice", PASSWORD)["Location"] == reverse("home")


def test_a_password_reset_unlocks_the_account(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    fail(client, clock, 20)
    page = client.get(reverse("account_reset_password")).content
    client.post(reverse("account_reset_password"), {"email": "alice@example.org", **challenge_answer(page)})
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/password/reset/key/" in line).strip()
    form_url = client.get(link)["Location"]
    client.post(form_url, {"password1": "a brand new passphrase", "password2": "a brand new passphrase"})
    assert AuditEvent.objects.filter(action="auth.unlock").exists()
    assert sign_in(client, "alice", "a brand new passphrase")["Location"] == reverse("home")


def test_a_wrong_second_factor_code_counts_towards_the_lock(
    client: Client, world: World, verified: None, clock: time_machine.Traveller
) -> None:
    enable_totp(world.alice_user)
    sign_in(client, "alice", PASSWORD)
    client.post(reverse("mfa_authenticate"), {"code": "000000"})
    row = SignInThrottle.objects.get(scope="account", key="alice")
    assert row.failures == 1
    assert AuditEvent.objects.filter(action="auth.second_factor", outcome="failure").exists()


def test_the_lock_expiry_is_in_the_future(world: World, clock: time_machine.Traveller) -> None:
    client = Client()
    fail(client, clock, 20, username="nobody-at-all")
    row = SignInThrottle.objects.get(scope="account", key="nobody-at-all")
    assert row.locked_until is not None and row.locked_until > timezone.now()


def test_an_unknown_username_is_slowed_and_locked_exactly_like_a_real_one(
    world: World, verified: None, clock: time_machine.Traveller
) -> None:
    pages = []
    for username, address in (("alice", "192.0.2.1"), ("zelda", "192.0.2.2")):
        client = Client(REMOTE_ADDR=address)
        fail(client, clock, 20, username=username)
        page = sign_in(client, username, "not-the-password").content
        pages.append(without_per_render_tokens(page).replace(f'value="{username}"'.encode(), b""))
        clock.shift(-dt.timedelta(seconds=31 * 20))
    assert pages[0] == pages[1]
    assert b"locked" in pages[0]
