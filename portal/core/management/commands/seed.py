"""`portal seed`: load the demo organisation and add generated patients."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.lib.seeding import DEFAULT_ANCHOR
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import SeedReport, seed_patients

DEFAULT_SEED = 2026
DEFAULT_PATIENTS = 300


def anchor_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def describe(report: SeedReport) -> str:
    return (
        f"Added {report.patients} patients ({report.accounts} with sign-ins), "
        f"{report.care_relationships} care relationships, {report.notifications} "
        f"notifications and {report.tasks} tasks, with {report.record_rows} medical record rows."
    )


class Command(BaseCommand):
    help = (
        "Load the demo organisation and add generated patients. The same seed and anchor "
        "on the same database give the same patients; on a database that already has "
        "patients this adds more."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
        parser.add_argument(
            "--anchor",
            type=dt.date.fromisoformat,
            default=DEFAULT_ANCHOR.date(),
            help="The day generated histories lead up to, YYYY-MM-DD (default: %(default)s).",
        )

    def handle(self, *args: Any, seed: int, patients: int, anchor: dt.date, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        if settings.PRODUCTION:
            raise CommandError("Refusing to add invented patients to a production database.")
        if patients < 0:
            raise CommandError("--patients must be zero or more.")
        seed_organization()
        report = seed_patients(patients, seed, anchor_at(anchor), progress=self._progress)
        self.stdout.write(self.style.SUCCESS(describe(report)))

    def _progress(self, done: int, total: int) -> None:
        if self.verbosity > 1 or (self.verbosity == 1 and total >= 10_000):
            self.stdout.write(f"  {done:,} of {total:,} patients")
