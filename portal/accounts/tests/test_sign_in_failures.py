"""A wrong password and an unknown username look, answer and cost the same."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.accounts.tests.helpers import sign_in, verify_email, without_per_render_tokens
from portal.audit.models import AuditEvent
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def hasher_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    # The test hasher is a cheap Argon2id; verifying goes through its parent class.
    original_verify, original_encode = Argon2PasswordHasher.verify, Argon2PasswordHasher.encode

    def verify(self: Any, password: str, encoded: str) -> bool:
        calls.append("verify")
        return original_verify(self, password, encoded)

    def encode(self: Any, password: str, salt: str) -> str:
        calls.append("encode")
        return original_encode(self, password, salt)

    monkeypatch.setattr(Argon2PasswordHasher, "verify", verify)
    monkeypatch.setattr(Argon2PasswordHasher, "encode", encode)
    return calls


def attempt(username: str, hasher_calls: list[str], address: str) -> tuple[Any, int, int]:
    hasher_calls.clear()
    with CaptureQueriesContext(connection) as queries:
        response = sign_in(Client(REMOTE_ADDR=address), username, "wrong-password-123")
    return response, len(hasher_calls), len(queries.captured_queries)


def test_an_unknown_user_looks_exactly_like_a_wrong_password(world: World, hasher_calls: list[str]) -> None:
    verify_email(world.alice_user)
    wrong_password, hashed_known, queries_known = attempt("alice", hasher_calls, "192.0.2.1")
    no_such_user, hashed_unknown, queries_unknown = attempt("zelda", hasher_calls, "192.0.2.2")

    assert wrong_password.status_code == no_such_user.status_code == 200
    assert "not correct" in wrong_password.content.decode()
    known_page = without_per_render_tokens(wrong_password.content).replace(b'value="alice"', b'value="?"')
    unknown_page = without_per_render_tokens(no_such_user.content).replace(b'value="zelda"', b'value="?"')
    assert known_page == unknown_page
    # The password hasher ran, as often, for the user that does not exist.
    assert hashed_known == hashed_unknown >= 1
    assert queries_known == queries_unknown


def test_both_kinds_of_failure_are_audited(world: World, hasher_calls: list[str]) -> None:
    attempt("alice", hasher_calls, "192.0.2.1")
    attempt("zelda", hasher_calls, "192.0.2.2")
    events = list(AuditEvent.objects.filter(action="auth.sign_in", outcome="failure").order_by("sequence"))
    assert [event.detail["username"] for event in events] == ["alice", "zelda"]
    assert [event.detail["known_user_id"] for event in events] == [world.alice_user.pk, None]
    assert all(event.actor_id is None for event in events)
