"""Plain-language descriptions of audited actions, for the patient's access log.

Each capability registers the actions it records so that "Who viewed my record" reads
as sentences, not codes.
"""

from __future__ import annotations

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


def register(action: str, phrase: Promise | str) -> None:
    _phrases[action] = phrase


def describe(action: str) -> str:
    return str(_phrases.get(action, _("accessed your record (%(action)s)") % {"action": action}))
