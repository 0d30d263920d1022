"""`portal billing_sweep`: charge due payment plan instalments, send their notices, settle pending payments."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.billing.tasks import schedule_sweep, sweep


class Command(BaseCommand):
    """One pass of the worker's billing sweep. Run it from cron daily or more often (beside
    `messaging_sweep`); running it again, or alongside a worker, charges nothing twice."""

    help = (
        "Charge due payment plan instalments, send upcoming-instalment notices and settle pending payments."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = sweep()
        schedule_sweep(after_run=True)
        self.stdout.write(
            "Instalments paid: {paid}, declined: {failed}, still processing: {pending}; "
            "pay-online reminders: {reminded}; notices sent: {notices}; plans paid off: "
            "{plans_completed}, stopped: {plans_stopped}; pending payments settled: {settled}.".format(**done)
        )
