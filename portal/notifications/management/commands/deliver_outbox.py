"""`portal deliver_outbox`: send every outbox message that is due, now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.notifications.outbox import deliver_due


class Command(BaseCommand):
    """For cron, or after the worker was down: the worker normally delivers each message
    when it falls due. Safe beside running workers, and safe to kill: each message is
    claimed once, and one left claimed by a killed run is sent again with the same
    idempotency key once its lease expires."""

    help = "Send the outbox messages that are due (in the portal, by email and by text)."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while sent := deliver_due():
            total += sent
        self.stdout.write(f"Sent {total} message(s).")
