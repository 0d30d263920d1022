"""`portal telehealth_sweep`: close video visits left open past their window; delete old signaling."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.telehealth.tasks import sweep


class Command(BaseCommand):
    """Safe to run at any time and alongside the worker; run it from cron every few minutes."""

    help = "Close video visits left open past their window and delete leftover signaling."

    def handle(self, *args: Any, **options: Any) -> None:
        done = sweep()
        self.stdout.write(
            f"Closed {done['closed']} video visit(s); deleted {done['signals_deleted']} signaling message(s)."
        )
