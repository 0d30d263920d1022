"""Every sign-in attempt, success or failure, every sign-out, and every change to how an
account signs in goes to the audit trail; failures also feed the sign-in throttle."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from allauth.account import signals as account_signals
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa import signals as mfa_signals
from allauth.usersessions.models import UserSession
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.accounts import sessions
from portal.accounts.actions import do_end_sessions, do_forgive_failed_sign_ins, do_record_failed_sign_in
from portal.audit.actor import Actor
from portal.audit.log import Kind, record

# Set on a request by code that signs a user out for a reason (an idle session, say),
# so the sign-out event says why.
SIGN_OUT_REASON = "portal_sign_out_reason"


@receiver(user_logged_in)
def audit_sign_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    sessions.start(request.session)
    methods = _count_sign_in_as_recent_authentication(request)
    actor = replace(Actor.from_request(request), user=user)
    record(actor, "auth.sign_in", kind=Kind.AUTH, detail={"methods": methods} if methods else None)
    do_forgive_failed_sign_ins(actor, user.username)


def _count_sign_in_as_recent_authentication(request: HttpRequest) -> list[str]:
    """Let the sign-in itself count as a recent re-authentication.

    allauth asks to re-authenticate before sensitive actions unless the session holds a
    recent *re*-authentication; a sign-in that has just proved the password (and second
    factor) is at least as strong, so someone enrolling in two-factor straight after
    signing in is not asked for their password again.
    """
    records = request.session.get(AUTHENTICATION_METHODS_SESSION_KEY)
    if not isinstance(records, list) or not records:
        return []
    records[-1] = {**records[-1], "reauthenticated": True}
    request.session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    return [str(entry.get("type") or entry.get("method")) for entry in records if isinstance(entry, dict)]


@receiver(user_logged_out)
def audit_sign_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    reason = getattr(request, SIGN_OUT_REASON, None)
    record(
        replace(Actor.from_request(request), user=user),
        "auth.sign_out",
        kind=Kind.AUTH,
        detail={"reason": reason} if reason else None,
    )


@receiver(user_login_failed)
def audit_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username") or credentials.get("login") or "")[:150]
    if request is not None:
        actor = replace(Actor.from_request(request), user=None)
    else:
        actor = Actor(user=None, client_ip="0.0.0.0")  # noqa: S104  (no request: still not the system)  # nosec B104
    do_record_failed_sign_in(actor, username)


@receiver(account_signals.password_reset)
def finish_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """A reset unlocks sign-in for the account (and the address that did it) and ends its sessions."""
    actor = Actor.from_request(request)
    do_forgive_failed_sign_ins(actor, user.username, actor.client_ip)
    do_end_sessions(actor, user, UserSession.objects.filter(user=user), reason="password_reset")


@receiver(account_signals.authentication_step_completed)
def audit_reauthentication(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if kwargs.get("reauthenticated"):
        record(
            replace(Actor.from_request(request), user=user),
            "auth.reauthenticate",
            kind=Kind.AUTH,
            detail={"method": str(kwargs.get("type") or kwargs.get("method") or "")},
        )


@receiver(mfa_signals.authentication_failed)
def count_failed_second_factor(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    do_record_failed_sign_in(Actor.from_request(request), user.username, action="auth.second_factor")


@receiver(mfa_signals.authenticator_added)
@receiver(mfa_signals.authenticator_removed)
@receiver(mfa_signals.authenticator_reset)
def audit_authenticator_change(
    sender: Any, signal: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    action = AUTHENTICATOR_ACTIONS[signal]
    actor = replace(Actor.from_request(request), user=user)
    record(actor, action, kind=Kind.AUTH, obj=authenticator, detail={"type": authenticator.type})


AUTHENTICATOR_ACTIONS = {
    mfa_signals.authenticator_added: "auth.authenticator_added",
    mfa_signals.authenticator_removed: "auth.authenticator_removed",
    mfa_signals.authenticator_reset: "auth.authenticator_reset",
}


@receiver(account_signals.email_added)
@receiver(account_signals.email_removed)
@receiver(account_signals.email_changed)
@receiver(account_signals.email_confirmed)
def audit_email_change(sender: Any, signal: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    address = kwargs.get("email_address") or kwargs.get("to_email_address")
    user = kwargs.get("user") or getattr(address, "user", None)
    actor = Actor.from_request(request) if request is not None else Actor.system()
    record(
        replace(actor, user=user) if user is not None else actor,
        EMAIL_ACTIONS[signal],
        kind=Kind.AUTH,
        detail={"email": getattr(address, "email", "")},
    )


EMAIL_ACTIONS = {
    account_signals.email_added: "auth.email_added",
    account_signals.email_removed: "auth.email_removed",
    account_signals.email_changed: "auth.email_changed",
    account_signals.email_confirmed: "auth.email_confirmed",
}
