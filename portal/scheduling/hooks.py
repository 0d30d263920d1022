"""Where the rest of scheduling hears about bookings: reminders and the waitlist.

`booking.py` calls these inside its transaction (or, for `slot_freed`, once it has
committed), so a reminder is queued in the same transaction as the booking it is for.
"""

from __future__ import annotations

from portal.scheduling.models import Appointment


def appointment_booked(appointment: Appointment) -> None:
    from portal.scheduling import reminders

    reminders.queue_reminders(appointment)


def appointment_cancelled(appointment: Appointment) -> None:
    from portal.scheduling import reminders, waitlist

    reminders.cancel_reminders(appointment)
    waitlist.withdraw_offers_for(appointment)


def slot_freed(slot_id: int) -> None:
    """A booked slot reopened: offer it to the waitlist (in the background)."""
    from portal.scheduling import waitlist

    waitlist.schedule_offers(slot_id)
