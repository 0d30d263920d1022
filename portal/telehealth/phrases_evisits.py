"""How e-visits read in the patient's access log.

Each per-e-visit action is registered twice: as itself, and as `<action>_private` for
e-visits in a confidential category (`EVisit.sensitivity`). The access log leaves
private actions out for a proxy kept from the patient's confidential care
(`audit.vocabulary.register(private=True)`), and "private" belongs to an action name,
not to one event; so a parent of a 12-17-year-old still reads "started an e-visit" for
a cold, but nothing for a confidential one. Write through `evisit_action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

if TYPE_CHECKING:
    from portal.telehealth.models import EVisit

PRIVATE_SUFFIX = "_private"

PER_EVISIT = {
    "telehealth.evisit_start": _("started an e-visit"),
    "telehealth.evisit_stopped": _("was directed to urgent care by an e-visit's questions"),
    "telehealth.evisit_photo": _("added a photo to an e-visit"),
    "telehealth.evisit_photo_remove": _("removed a photo from an e-visit"),
    "telehealth.evisit_reprice": _("updated the price of an e-visit that was not sent"),
    "telehealth.evisit_submit": _("sent an e-visit"),
    "telehealth.evisit_withdraw": _("withdrew an e-visit"),
    "telehealth.evisit_claim": _("started reviewing an e-visit"),
    "telehealth.evisit_reply": _("answered an e-visit"),
    "telehealth.evisit_redirect": _("asked for a visit instead of an e-visit"),
    "telehealth.evisit_view": _("viewed an e-visit"),
    "telehealth.evisit_photo_view": _("viewed a photo from an e-visit"),
    "telehealth.evisit_release": _("stopped reviewing an e-visit"),
    "telehealth.evisit_expired": _("deleted an e-visit that was never sent"),
    "telehealth.evisit_photos_deleted": _("deleted the photos of a withdrawn e-visit"),
}

for _action, _phrase in PER_EVISIT.items():
    register(_action, _phrase)
    register(_action + PRIVATE_SUFFIX, _phrase, private=True)

# A list names no e-visit, so it reveals nothing confidential.
register("telehealth.evisit_list", _("viewed e-visits"))


def evisit_action(evisit: EVisit, action: str) -> str:
    """The name to audit `action` under for this e-visit: the private twin for a confidential one."""
    return action + PRIVATE_SUFFIX if evisit.sensitivity else action


def both(action: str) -> tuple[str, str]:
    """An action and its private twin, for looking events up."""
    return action, action + PRIVATE_SUFFIX
