"""`portal worker`: run background tasks from the database queue."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from portal.core.lost_tasks import LostTaskWatch
from portal.core.observability.heartbeat import Heartbeat


class Command(DatabaseWorkerCommand):
    """django-tasks-db's `db_worker` under the portal's own name, with the same options,
    plus the heartbeat `/readyz` checks (portal/core/observability/heartbeat.py) and,
    after the beats, the look for tasks a killed worker left running (portal/core/lost_tasks.py).

    Run as many as the load needs: each claims rows with a lock, so two workers never
    run the same task.
    """

    help = "Run background tasks from the database queue (django-tasks-db's db_worker)."

    def handle(self, *args: Any, **options: Any) -> None:
        # With --reload this process only watches files; the child it starts runs the
        # tasks (and this command again, with DJANGO_AUTORELOAD_ENV set), so it beats.
        reloading = options["reload"] and not options["batch"]
        heartbeat = None
        if not reloading or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            heartbeat = Heartbeat(
                options["worker_id"], settings.PORTAL_WORKER_HEARTBEAT_SECONDS, after_beat=LostTaskWatch()
            )
            heartbeat.start()
        try:
            super().handle(*args, **options)
        finally:
            if heartbeat is not None:
                heartbeat.stop()
