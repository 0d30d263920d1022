"""Plain-language descriptions of audited actions, for the patient's access log.

Each capability registers the actions it records so that "Who viewed my record" reads
as sentences, not codes.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_phrases: dict[str, Promise | str] = {
    "dashboard.view": _("opened your home page"),
    "patient.view": _("looked at your details"),
    "access_log.view": _("looked at who viewed your record"),
    "access.break_glass": _("used emergency access to your record"),
    "access.refused": _("was refused access to your record"),
    "proxy.grant": _("gave someone access to your account"),
    "proxy.revoke": _("removed someone's access to your account"),
    "task.complete": _("marked a task as done"),
    "notification.read": _("read a notification"),
    "notification.read_all": _("marked notifications as read"),
    "profile.view": _("looked at your contact details"),
}


_private: set[str] = set()


def register(action: str, phrase: Promise | str, *, private: bool = False) -> None:
    """Name an action for the access log; `private` ones are left out for a proxy who is
    kept from the patient's confidential care (whom an adolescent shares with is theirs)."""
    _phrases[action] = phrase
    if private:
        _private.add(action)


def private_actions() -> list[str]:
    return sorted(_private)


class _Details(dict[str, str]):
    """An event's detail for filling a phrase; a missing value reads as a neutral word."""

    def __missing__(self, key: str) -> str:
        return str(_("someone"))


def describe(action: str, detail: dict[str, Any] | None = None) -> str:
    """The sentence for an action; `%(name)s` in a phrase is filled from the event's detail."""
    phrase = _phrases.get(action)
    if phrase is None:
        return str(_("accessed your record (%(action)s)") % {"action": action})
    text = str(phrase)
    if "%(" not in text:
        return text
    values = _Details({key: str(value)[:200] for key, value in (detail or {}).items()})
    return text % values
