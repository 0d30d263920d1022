"""`portal messaging_sweep`: tell pools about overdue conversations, then send what is due."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.messaging.sweep import sweep_overdue
from portal.notifications.outbox import deliver_due


class Command(BaseCommand):
    """Tells each overdue thread's pool once per response-time target, then sends the
    due outbox messages. Run it from cron every few minutes (beside `scheduling_sweep`);
    running it again, or alongside a worker, tells nobody twice."""

    help = "Tell staff pools about overdue conversations (once each) and send due messages."

    def handle(self, *args: Any, **options: Any) -> None:
        told = sweep_overdue()
        sent = 0
        while batch := deliver_due():
            sent += batch
        self.stdout.write(
            f"Told {told} member(s) of staff about overdue conversations; sent {sent} message(s)."
        )
