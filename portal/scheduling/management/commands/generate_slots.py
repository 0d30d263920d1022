"""`portal generate_slots`: open the slots of every current schedule template."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.scheduling.slots import generate_slots

MAX_DAYS = 3 * 366


class Command(BaseCommand):
    help = (
        "Create the missing slots of every current schedule template for the coming days. "
        "Safe to run again at any time: it only adds what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.PORTAL_SLOT_HORIZON_DAYS,
            help="How many days ahead, from today (default PORTAL_SLOT_HORIZON_DAYS).",
        )

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}.")
        created = generate_slots(days=days)
        self.stdout.write(f"Created {created} slot{'' if created == 1 else 's'} for the next {days} days.")
