"""`portal scheduling_sweep`: catch up on earlier-time offers and the outbox."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.notifications.outbox import deliver_due
from portal.scheduling import waitlist


class Command(BaseCommand):
    """Ends overdue waitlist offers and passes their slots on, then sends what is due.

    The worker does both on time through deferred tasks; run this from cron (or by
    hand in the demo) to cover a worker that was stopped.
    """

    help = "End overdue earlier-time offers, offer their slots onward, and send due messages."

    def handle(self, *args: Any, **options: Any) -> None:
        offered = waitlist.sweep()
        sent = 0
        while batch := deliver_due():
            sent += batch
        self.stdout.write(f"Made {offered} new offer(s); sent {sent} message(s).")
