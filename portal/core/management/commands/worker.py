"""`portal worker`: run background tasks from the database queue."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand


class Command(DatabaseWorkerCommand):
    """django-tasks-db's `db_worker` under the portal's own name, with the same options.

    Run as many as the load needs: each claims rows with a lock, so two workers never
    run the same task.
    """

    help = "Run background tasks from the database queue (django-tasks-db's db_worker)."
