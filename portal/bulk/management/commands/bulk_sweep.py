"""`portal bulk_sweep`: delete expired bulk exports and their files; fail exports a dead worker left."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.bulk.tasks import sweep


class Command(BaseCommand):
    """Safe to run at any time and alongside the worker; run it from cron every hour or so."""

    help = "Delete expired bulk data exports with their files, and fail exports stuck running."

    def handle(self, *args: Any, **options: Any) -> None:
        done = sweep()
        self.stdout.write(f"Deleted {done['deleted']} export(s); failed {done['failed']} stuck export(s).")
