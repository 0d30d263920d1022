"""Session limits: an idle timeout and an absolute lifetime, enforced on the server.

A signed-in session keeps two timestamps: when the user signed in and when they were
last active. `SessionLimitsMiddleware` signs out a session idle for longer than
`PORTAL_IDLE_TIMEOUT_MINUTES` or older than `SESSION_COOKIE_AGE`, and records activity
on every other request. This module is also the `SESSION_ENGINE`: database sessions
whose server-side expiry follows the idle timeout (capped by what is left of the
absolute lifetime, plus a grace period), so an abandoned session dies in the database
even if its browser never comes back.
"""

from __future__ import annotations

import datetime as dt
import time
from enum import StrEnum
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

if TYPE_CHECKING:
    from allauth.usersessions.models import UserSession

SIGNED_IN_AT = "portal_signed_in_at"
LAST_ACTIVITY = "portal_last_activity"
# Activity is written at most this often, so a burst of requests is one session write.
ACTIVITY_RESOLUTION_SECONDS = 10
EXPIRY_GRACE_SECONDS = 60 * 60


class Expiry(StrEnum):
    IDLE = "idle"
    LIFETIME = "lifetime"


def idle_seconds() -> int:
    return int(settings.PORTAL_IDLE_TIMEOUT_MINUTES * 60)


def lifetime_seconds() -> int:
    return int(settings.SESSION_COOKIE_AGE)


def start(session: SessionBase, now: float | None = None) -> None:
    """Stamp a session that has just been signed in."""
    now = time.time() if now is None else now
    session[SIGNED_IN_AT] = now
    session[LAST_ACTIVITY] = now


def expired(session: SessionBase, now: float | None = None) -> Expiry | None:
    """Why a signed-in session is over, or None while it is still good.

    A session without the stamps was not signed in through `django.contrib.auth.login`
    (or predates these limits), so it is treated as over rather than as immortal.
    """
    now = time.time() if now is None else now
    signed_in_at = _number(session.get(SIGNED_IN_AT))
    last_activity = _number(session.get(LAST_ACTIVITY))
    if signed_in_at is None or now - signed_in_at >= lifetime_seconds():
        return Expiry.LIFETIME
    if last_activity is None or now - last_activity >= idle_seconds():
        return Expiry.IDLE
    return None


def remaining_seconds(session: SessionBase, now: float | None = None) -> int:
    """Seconds until the session ends if the user does nothing."""
    now = time.time() if now is None else now
    signed_in_at = _number(session.get(SIGNED_IN_AT))
    last_activity = _number(session.get(LAST_ACTIVITY))
    if signed_in_at is None or last_activity is None:
        return 0
    left = min(last_activity + idle_seconds(), signed_in_at + lifetime_seconds()) - now
    return max(0, int(left))


def seconds_before_warning_check(session: SessionBase, now: float | None = None) -> int:
    """The idle timeout, or what is left of the lifetime if that is shorter."""
    now = time.time() if now is None else now
    signed_in_at = _number(session.get(SIGNED_IN_AT))
    if signed_in_at is None:
        return 0
    return max(0, min(idle_seconds(), int(signed_in_at + lifetime_seconds() - now)))


def touch(session: SessionBase, now: float | None = None, *, force: bool = False) -> None:
    """Record activity (at most every few seconds unless forced)."""
    now = time.time() if now is None else now
    last_activity = _number(session.get(LAST_ACTIVITY)) or 0.0
    if force or now - last_activity >= ACTIVITY_RESOLUTION_SECONDS:
        session[LAST_ACTIVITY] = now


def is_live(session: UserSession, now: dt.datetime | None = None) -> bool:
    """Whether a listed session (allauth usersessions) is still within both limits."""
    now = now or timezone.now()
    return now - session.last_seen_at < dt.timedelta(
        seconds=idle_seconds()
    ) and now - session.created_at < dt.timedelta(seconds=lifetime_seconds())


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class SessionStore(DatabaseSessionStore):
    """Database sessions that expire on the server soon after the idle timeout.

    The row outlives the timeout by `EXPIRY_GRACE_SECONDS` so that a user coming back
    within it still reaches the middleware, which signs them out with an explanation
    and an audit event; after that the row is simply gone. The cookie is unaffected
    where a view asked for a browser-session cookie (sign-in does).
    """

    def get_session_cookie_age(self) -> int:
        age = idle_seconds()
        signed_in_at = _number(self.get(SIGNED_IN_AT))
        if signed_in_at is not None:
            age = min(age, int(signed_in_at + lifetime_seconds() - time.time()))
        return max(age, 0) + EXPIRY_GRACE_SECONDS
