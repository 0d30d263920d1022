"""How registration events read in the patient's "Who viewed my record" page."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit import vocabulary

PHRASES = {
    "registration.attempt": _("tried to create a portal account with your details"),
    "registration.complete": _("created your portal account"),
    "activation_code.issue": _("issued an activation code for your account"),
    "activation_code.revoke": _("cancelled an activation code for your account"),
    "activation_code.view": _("looked at your activation codes"),
    "access_request.match": _("matched a request for portal access to your record"),
    "access_request.send_code": _("emailed an activation code in answer to a request for access"),
    "access_request.decline": _("declined a request for portal access"),
}


def register_phrases() -> None:
    for action, phrase in PHRASES.items():
        vocabulary.register(action, phrase)
