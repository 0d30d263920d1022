"""Throttling and lockout of password sign-in, per username and per client address.

After `PORTAL_SIGNIN_SLOW_AFTER` failures (default 5) each further attempt must wait
`PORTAL_SIGNIN_DELAY_SECONDS` (30) after the last failure, and is refused without
checking the password if it comes sooner. At `PORTAL_SIGNIN_LOCK_AFTER` failures (20)
sign-in is locked for `PORTAL_SIGNIN_LOCK_MINUTES` (30). Failures are forgotten that
long after the last one, when a lock runs out, when the username signs in, and when a
password reset completes (which forgives the username and the address it came from).

Counts live in `SignInThrottle` rows keyed by the typed username (lower-cased) and by
client address, never by account: an unknown username is counted, slowed and locked
exactly like a real one. This module only reads; `actions.py` writes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from portal.accounts.models import SignInThrottle

Scope = SignInThrottle.Scope


class State(StrEnum):
    OPEN = "open"
    SLOWED = "slowed"
    LOCKED = "locked"


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in attempt may go ahead now, and if not, how long until it may."""

    state: State
    retry_after: int = 0

    @property
    def allowed(self) -> bool:
        return self.state is State.OPEN


OPEN = Verdict(State.OPEN)
# What the audit records when an attempt came without a request: not a client to count.
UNSPECIFIED_ADDRESS = "0.0.0.0"  # noqa: S104  # nosec B104  # an audit placeholder; nothing binds to it
SEVERITY = {State.OPEN: 0, State.SLOWED: 1, State.LOCKED: 2}


def normalized(username: str) -> str:
    return username.strip().lower()[:150]


def keys(username: str, client_ip: str | None) -> list[tuple[str, str]]:
    """The (scope, key) pairs an attempt counts against."""
    pairs = [(Scope.ACCOUNT.value, normalized(username))]
    if client_ip and client_ip != UNSPECIFIED_ADDRESS:
        pairs.append((Scope.ADDRESS.value, client_ip))
    return pairs


def memory() -> dt.timedelta:
    """How long a failure (and a lock) is remembered."""
    return dt.timedelta(minutes=settings.PORTAL_SIGNIN_LOCK_MINUTES)


def is_stale(row: SignInThrottle, now: dt.datetime) -> bool:
    """A row whose lock has run out, or whose last failure is long enough ago, counts as clean."""
    if row.locked_until is not None:
        return now >= row.locked_until
    return now - row.last_failure_at >= memory()


def verdict_for(row: SignInThrottle, now: dt.datetime) -> Verdict:
    if is_stale(row, now):
        return OPEN
    if row.locked_until is not None:
        return Verdict(State.LOCKED, _seconds(row.locked_until - now))
    if row.failures >= settings.PORTAL_SIGNIN_SLOW_AFTER:
        wait = row.last_failure_at + dt.timedelta(seconds=settings.PORTAL_SIGNIN_DELAY_SECONDS) - now
        if wait > dt.timedelta(0):
            return Verdict(State.SLOWED, _seconds(wait))
    return OPEN


def check(username: str, client_ip: str | None, now: dt.datetime | None = None) -> Verdict:
    """The strictest verdict over the username and the client address."""
    now = now or timezone.now()
    matches = Q()
    for scope, key in keys(username, client_ip):
        matches |= Q(scope=scope, key=key)
    verdicts = [verdict_for(row, now) for row in SignInThrottle.objects.filter(matches)]
    return max(verdicts, key=lambda verdict: SEVERITY[verdict.state], default=OPEN)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
