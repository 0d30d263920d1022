"""The home page's "Messages" card: how many replies are unread, and the latest conversations."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _

from portal.dashboard.cards import Card, card_provider
from portal.messaging.access import may_message, patient_threads, unread_from_staff, unread_messages
from portal.patients.access import PatientAccess

SHOWN = 3
# Counting stops here, so the card costs the same however many replies wait.
UNREAD_CAP = 99


@card_provider
def messages_card(request: HttpRequest, access: PatientAccess) -> Card | None:
    """Two queries whatever the history: the latest conversations, then the capped unread count."""
    if access.is_staff_access or not may_message(access):
        return None
    threads = list(
        patient_threads(access).filter(archived_at__isnull=True).annotate(unread=unread_from_staff())[:SHOWN]
    )
    if not threads:
        return None
    # Counted in the threads this access may see: a confidential reply is not news to a parent.
    unread = unread_messages(access).values("pk")[: UNREAD_CAP + 1]
    count = len(unread)
    context = {"threads": threads, "unread": min(count, UNREAD_CAP), "more": count > UNREAD_CAP}
    return Card(_("Messages"), "messaging/patient/card.html", context, order=15)
