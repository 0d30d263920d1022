"""Helpers for the sign-in tests: verified addresses, authenticator apps, signing in."""

from __future__ import annotations

import re
import time
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.lib.challenge import solve
from portal.test import PASSWORD

TOTP_PERIOD = 30


def verify_email(*users: User) -> None:
    for user in users:
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )


def enable_totp(user: User) -> str:
    """Give the user an authenticator app (and recovery codes); returns the shared secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now, computed with allauth's own helpers."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD + steps_ahead))


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(reverse("account_login"), {"login": username, "password": password}, **extra)


def sign_in_with_totp(client: Client, user: User, secret: str, password: str = PASSWORD) -> Any:
    response = sign_in(client, user.username, password)
    assert response["Location"] == reverse("mfa_authenticate")
    return client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})


CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
CHALLENGE_TOKEN = re.compile(rb'name="challenge" value="([^"]*)"')


def without_per_render_tokens(content: bytes) -> bytes:
    """A page with the values that differ on every render (CSRF and challenge tokens) blanked."""
    return CHALLENGE_TOKEN.sub(b"", CSRF_TOKEN.sub(b"", content))


def challenge_answer(page: bytes) -> dict[str, str]:
    """Solve the security check on a rendered form, as the browser's script would."""
    match = CHALLENGE_TOKEN.search(page)
    assert match is not None, "the form has no security check"
    token = match.group(1).decode()
    return {"challenge": token, "challenge_proof": solve(token)}
