"""The daily prune of finished background task results (deploy/systemd/portal-prune-tasks.service),
run with exactly the arguments its unit file gives."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

import portal

UNIT = Path(portal.__file__).resolve().parent.parent / "deploy" / "systemd" / "portal-prune-tasks.service"


def unit_arguments() -> list[str]:
    """The unit's ExecStart, from the command's name on (`portal <command> <options>`)."""
    line = next(line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    program, *arguments = shlex.split(line.removeprefix("ExecStart="))
    assert program.endswith("/portal")
    return arguments


def a_task(status: str, days_ago: float | None) -> DBTaskResult:
    finished = None if days_ago is None else timezone.now() - dt.timedelta(days=days_ago)
    return DBTaskResult.objects.create(
        status=status,
        task_path="portal.notifications.tasks.deliver_outbox",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=get_date_max(),
        finished_at=finished,
    )


def test_the_daily_prune_keeps_recent_failures_and_unfinished_tasks(db: None, settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    kept = [
        a_task(TaskResultStatus.SUCCESSFUL, 13),
        a_task(TaskResultStatus.FAILED, 27),  # failures are kept longer, for a look back
        a_task(TaskResultStatus.READY, None),
        a_task(TaskResultStatus.RUNNING, None),
    ]
    a_task(TaskResultStatus.SUCCESSFUL, 15)
    a_task(TaskResultStatus.FAILED, 29)
    call_command(*unit_arguments(), verbosity=0)
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {task.pk for task in kept}
