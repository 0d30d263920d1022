"""Passwords: at least 12 characters, long passphrases welcome, common ones refused, Argon2id."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from portal.accounts.tests.helpers import sign_in, verify_email
from portal.test import PASSWORD, World

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password", ["eleven-char", "password1234", "123456789012"])
def test_short_common_and_numeric_passwords_are_refused(world: World, password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password, world.alice_user)


def test_long_passphrases_are_welcome(world: World) -> None:
    passphrase = " ".join(["correct horse battery staple lantern"] * 8)[:300]
    assert len(passphrase) >= 256
    validate_password(passphrase, world.alice_user)
    validate_password("x7" * 512, world.alice_user)
    with pytest.raises(ValidationError):
        validate_password("x" * 1025, world.alice_user)


def test_a_long_passphrase_works_end_to_end(world: World) -> None:
    verify_email(world.alice_user)
    passphrase = "the quick brown fox jumps over the lazy dog " * 7
    client = Client()
    sign_in(client, "alice")
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": passphrase, "password2": passphrase},
    )
    assert response.status_code == 302
    assert sign_in(Client(), "alice", passphrase)["Location"] == reverse("home")


def test_hashes_are_argon2id(world: World) -> None:
    world.alice_user.refresh_from_db()
    assert world.alice_user.password.startswith("argon2$argon2id$")
    assert "django.contrib.auth.hashers.Argon2PasswordHasher" in settings.PASSWORD_HASHERS


def test_nobody_may_choose_the_published_demo_password(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(settings.DEMO_PASSWORD, world.alice_user)
    assert [error.code for error in refused.value.error_list] == ["password_too_common"]


def test_production_refuses_the_demo_password_even_where_an_account_has_it(
    world: World, settings: Any
) -> None:
    verify_email(world.alice_user)
    world.alice_user.set_password(settings.DEMO_PASSWORD)
    world.alice_user.save(update_fields=["password"])
    assert sign_in(Client(), "alice", settings.DEMO_PASSWORD)["Location"] == reverse("home")

    settings.PRODUCTION = True
    refused = sign_in(Client(), "alice", settings.DEMO_PASSWORD)
    assert refused.status_code == 200
    assert "_auth_user_id" not in refused.wsgi_request.session

    world.alice_user.set_password(PASSWORD)
    world.alice_user.save(update_fields=["password"])
    assert sign_in(Client(), "alice")["Location"] == reverse("home")
