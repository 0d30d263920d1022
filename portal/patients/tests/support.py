"""Helpers for tests of pages that ask for a recent re-authentication."""

from __future__ import annotations

import time

from django.test import Client

from portal.accounts.models import User


def sign_in_recently(client: Client, user: User) -> None:
    """Sign in as if the user had just typed their password (a recent re-authentication)."""
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "username": user.username, "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
