"""Template helpers for the idle-timeout warning and the sessions list."""

from __future__ import annotations

from collections.abc import Iterable

from allauth.usersessions.models import UserSession
from django import template
from django.conf import settings
from django.http import HttpRequest

from portal.accounts import sessions

register = template.Library()


@register.simple_tag
def session_seconds_left(request: HttpRequest) -> int:
    """Seconds the page may sit before the session ends: the full idle timeout (this
    request counted as activity), unless the absolute lifetime ends sooner.

    Deliberately not the exact remainder, so two renders of a page are identical; the
    script asks the server for the exact time before it warns.
    """
    return sessions.seconds_before_warning_check(request.session)


@register.simple_tag
def session_warning_seconds() -> int:
    return int(settings.PORTAL_IDLE_WARNING_SECONDS)


@register.filter
def live_sessions(listed: Iterable[UserSession]) -> list[UserSession]:
    """The listed sessions still within the idle timeout and the absolute lifetime."""
    return [session for session in listed if sessions.is_live(session)]


@register.filter
def in_groups_of_four(secret: str) -> str:
    """An authenticator setup key as "ABCD EFGH ...": easier to type, and it wraps on a phone."""
    text = str(secret)
    return " ".join(text[start : start + 4] for start in range(0, len(text), 4))
