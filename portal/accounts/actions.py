"""Every write about signing in: failed attempts, passwords, sessions, username reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from allauth.account.utils import filter_users_by_email
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.accounts import throttle
from portal.accounts.models import SignInThrottle, User
from portal.audit.actor import Actor
from portal.audit.log import Kind, Outcome, record


@transaction.atomic
def do_record_failed_sign_in(actor: Actor, username: str, action: str = "auth.sign_in") -> throttle.Verdict:
    """Count a failed sign-in against the username and the client address, and audit it.

    The work is the same whether or not the username exists, so a failure for an
    unknown user takes as long, and answers the same, as a wrong password. A wrong
    two-factor code (`action="auth.second_factor"`) counts towards the same lock.
    """
    now = timezone.now()
    known = User.objects.filter(username=username).first()
    rows = [_count_failure(scope, key, now) for scope, key in throttle.keys(username, actor.client_ip)]
    record(
        actor,
        action,
        kind=Kind.AUTH,
        outcome=Outcome.FAILURE,
        detail={
            "username": username,
            "known_user_id": known.pk if known else None,
            "failures": {row.scope: row.failures for row in rows},
        },
    )
    for row in rows:
        if row.locked_until is not None and row.failures == settings.PORTAL_SIGNIN_LOCK_AFTER:
            record(
                actor,
                "auth.lockout",
                kind=Kind.AUTH,
                outcome=Outcome.DENIED,
                detail={"scope": row.scope, "key": row.key, "until": row.locked_until.isoformat()},
            )
    return throttle.check(username, actor.client_ip, now)


def _count_failure(scope: str, key: str, now: dt.datetime) -> SignInThrottle:
    row, _created = SignInThrottle.objects.select_for_update().get_or_create(
        scope=scope, key=key, defaults={"last_failure_at": now}
    )
    if throttle.is_stale(row, now):
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= settings.PORTAL_SIGNIN_LOCK_AFTER and row.locked_until is None:
        row.locked_until = now + throttle.memory()
    row.save()
    return row


def do_refuse_sign_in(actor: Actor, username: str, verdict: throttle.Verdict) -> None:
    """Audit an attempt refused, before its password was checked, for coming too soon or while locked."""
    record(
        actor,
        "auth.sign_in",
        kind=Kind.AUTH,
        outcome=Outcome.DENIED,
        detail={"username": username, "reason": verdict.state.value, "retry_after": verdict.retry_after},
    )


@transaction.atomic
def do_forgive_failed_sign_ins(actor: Actor, username: str, client_ip: str | None = None) -> int:
    """Forget failures (and any lock) for the username, and for a client address if given."""
    matches = Q(scope=SignInThrottle.Scope.ACCOUNT, key=throttle.normalized(username))
    if client_ip:
        matches |= Q(scope=SignInThrottle.Scope.ADDRESS, key=client_ip)
    deleted, _counts = SignInThrottle.objects.filter(matches).delete()
    if deleted:
        record(actor, "auth.unlock", kind=Kind.AUTH, detail={"username": username, "rows": deleted})
    return deleted


@transaction.atomic
def do_set_password(actor: Actor, user: User, password: str) -> None:
    """Set a new password (change, reset or first set), audited.

    Changing the password changes the session hash, so every other session of the user
    stops working at once, and every reset link already sent stops working too (the
    reset token is made from the password hash).
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    action = (
        "auth.password_change"
        if actor.user is not None and actor.user.pk == user.pk
        else "auth.password_reset"
    )
    record(actor, action, kind=Kind.AUTH, obj=user)


@transaction.atomic
def do_end_sessions(actor: Actor, user: User, sessions: Iterable[UserSession], reason: str) -> int:
    """Sign out the given sessions of one user, audited."""
    ended = 0
    for session in sessions:
        if session.user_id != user.pk:
            continue
        session.end()
        ended += 1
    record(actor, "auth.sessions_ended", kind=Kind.AUTH, obj=user, detail={"count": ended, "reason": reason})
    return ended


@transaction.atomic
def do_keep_other_sessions(actor: Actor, user: User, current_session_key: str | None) -> int:
    """After a password change, let the user's other sessions carry on (they asked to).

    Django ties a session to the password hash; re-stamping the other sessions with the
    new hash is what keeps them, so the choice is explicit and audited.
    """
    engine = import_module(settings.SESSION_ENGINE)
    kept = 0
    for session in UserSession.objects.filter(user=user).exclude(session_key=current_session_key or ""):
        store = engine.SessionStore(session.session_key)
        if not store.exists(session.session_key) or HASH_SESSION_KEY not in store:
            continue
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save(must_create=False)
        kept += 1
    record(actor, "auth.sessions_kept", kind=Kind.AUTH, obj=user, detail={"count": kept})
    return kept


def do_send_username_reminder(actor: Actor, email: str) -> None:
    """Email the usernames registered to an address, or say there are none; audited.

    One email goes out either way, so the page and the time taken are the same whether
    or not the address belongs to anyone.
    """
    users = list(accounts_for_email(email))
    context: dict[str, Any] = {
        "usernames": [user.username for user in users],
        "SITE_NAME": settings.SITE_NAME,
    }
    context["login_url"] = settings.SITE_ROOT.rstrip("/") + reverse("account_login")
    subject = render_to_string("account/email/username_reminder_subject.txt", context).strip()
    body = render_to_string("account/email/username_reminder_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    record(
        actor,
        "auth.username_reminder",
        kind=Kind.AUTH,
        detail={"email": email, "accounts": [user.pk for user in users]},
    )


def accounts_for_email(email: str) -> list[User]:
    """Active accounts with this address, by the same rule as allauth's password reset."""
    users = filter_users_by_email(email, is_active=True, prefer_verified=True)
    return sorted(users, key=lambda user: user.username)
