"""How making a health card reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

# Private: a health card is a way of sharing, and whom a teenager shares with is theirs;
# a parent kept from their confidential care does not see these in the log.
register(
    "healthcards.immunizations_card", _("made a health card (QR code) of your immunizations"), private=True
)
register(
    "healthcards.immunizations_file", _("downloaded a health card file of your immunizations"), private=True
)
register("healthcards.labs_card", _("made a health card (QR code) of your recent test results"), private=True)
register(
    "healthcards.labs_file", _("downloaded a health card file of your recent test results"), private=True
)
