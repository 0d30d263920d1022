"""Every sign-in attempt, success or failure, and every sign-out goes to the audit trail."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.audit.actor import Actor
from portal.audit.log import Kind, Outcome, record


@receiver(user_logged_in)
def audit_sign_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(replace(Actor.from_request(request), user=user), "auth.sign_in", kind=Kind.AUTH)


@receiver(user_logged_out)
def audit_sign_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    record(replace(Actor.from_request(request), user=user), "auth.sign_out", kind=Kind.AUTH)


@receiver(user_login_failed)
def audit_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username") or credentials.get("login") or "")[:150]
    known = get_user_model().objects.filter(username=username).first()
    if request is not None:
        actor = replace(Actor.from_request(request), user=None)
    else:
        actor = Actor(user=None, client_ip="0.0.0.0")  # noqa: S104  (no request: still not the system)
    record(
        actor,
        "auth.sign_in",
        kind=Kind.AUTH,
        outcome=Outcome.FAILURE,
        detail={"username": username, "known_user_id": known.pk if known else None},
    )
