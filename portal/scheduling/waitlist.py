"""Earlier-slot offers from the waitlist.

(The engine is being written: see helper brief. `withdraw_offers_for` and
`schedule_offers` are the two entry points `hooks.py` calls.)
"""

from __future__ import annotations

from portal.scheduling.models import Appointment, SlotOffer


def withdraw_offers_for(appointment: Appointment) -> int:
    """A cancelled appointment no longer wants earlier times: withdraw its open offers."""
    return SlotOffer.objects.filter(
        waitlist_entry__appointment=appointment, status=SlotOffer.Status.OPEN
    ).update(status=SlotOffer.Status.WITHDRAWN)


def schedule_offers(slot_id: int) -> None:
    """Offer a freed slot to the first matching waiting patients (background task)."""
