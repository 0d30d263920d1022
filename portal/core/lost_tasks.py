"""Tasks a killed worker left running: queued again where running twice is safe, failed otherwise.

django-tasks-db marks a task RUNNING with the id of the worker that claimed it, and nothing
looks at it again: a worker killed mid-task (kill -9, the OOM killer, a lost machine) leaves
it RUNNING for ever, and what it stood for (a result's notice, a sweep, a video visit's
closing) never happens. So every `portal worker` looks, when it starts and then as often as
a worker can be found dead, for RUNNING tasks whose worker has no fresh heartbeat (the
heartbeat's own rule, portal/core/observability/heartbeat.py).

A task whose function is marked `@rerun_if_worker_dies` (written so that running it again,
even after the first run committed, changes nothing more) goes back to READY and the next
free worker runs it, at most MAX_RUNS times in all: a task that kills its worker every time
(memory, say) must not take every worker down with it. Any other task is marked FAILED with
`WorkerLost`, so the admin shows it failed instead of running for ever; a task marked
`@when_worker_dies(handler)` then has `handler` called with its arguments, to tell whoever
waits for it (a bulk export's job is failed at once, so its service can start another).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import SuspiciousOperation
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from portal.core.models import WorkerHeartbeat
from portal.core.observability.heartbeat import stale_after

logger = logging.getLogger(__name__)

MAX_RUNS = 3
RERUN_MARK = "portal_rerun_if_worker_dies"
LOST_HANDLER = "portal_when_worker_dies"
Function = TypeVar("Function", bound=Callable[..., Any])


class WorkerLost(Exception):
    """Named as a lost task's exception: its worker stopped while running it."""


WORKER_LOST = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"


def rerun_if_worker_dies(function: Function) -> Function:
    """Mark a task's function (under `@task()`) as safe to run again after its worker died."""
    setattr(function, RERUN_MARK, True)
    return function


def when_worker_dies(handler: Callable[..., object]) -> Callable[[Function], Function]:
    """Mark a task's function (under `@task()`) with what to do, with its arguments, once it
    is failed because its worker died."""

    def mark(function: Function) -> Function:
        setattr(function, LOST_HANDLER, handler)
        return function

    return mark


def _function(row: DBTaskResult) -> Callable[..., Any] | None:
    try:
        return row.task.func
    except (ImportError, SuspiciousOperation):  # the code that queued it is gone
        return None


def reruns_safely(row: DBTaskResult) -> bool:
    return bool(getattr(_function(row), RERUN_MARK, False))


@dataclass(frozen=True)
class Recovered:
    queued_again: int = 0
    failed: int = 0


def recover_lost_tasks(now: dt.datetime | None = None) -> Recovered:
    """Queue again, or fail, every RUNNING task whose worker stopped beating."""
    now = now or timezone.now()
    dead_since = now - stale_after()
    # Each live worker's id and when its process started.
    alive = dict(
        WorkerHeartbeat.objects.filter(beat_at__gte=dead_since).values_list("worker_id", "started_at")
    )
    # Claimed before the cut-off: a worker that claimed one since has beaten since, too.
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=dead_since)
    queued_again = failed = 0
    for row in running.order_by("started_at"):
        lost_by = row.worker_ids[-1] if row.worker_ids else ""
        # A task claimed before its worker's process started was claimed by an earlier
        # process that had the same id (a restart with a fixed --worker-id).
        if lost_by in alive and row.started_at >= alive[lost_by]:
            continue
        safe = reruns_safely(row)
        if safe and len(row.worker_ids) < MAX_RUNS:
            queued_again += _queue_again(row, lost_by)
        else:
            failed += _fail(row, lost_by, now, safe=safe)
    return Recovered(queued_again, failed)


def _still_lost(row: DBTaskResult) -> Any:
    # Compared on started_at too: a task another worker recovered and ran meanwhile has a new one.
    return DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at)


def _queue_again(row: DBTaskResult, lost_by: str) -> int:
    changed: int = _still_lost(row).update(status=TaskResultStatus.READY, started_at=None)
    if changed:
        logger.warning("Task %s (%s) lost its worker %s: queued again", row.pk, row.task_path, lost_by)
    return changed


def _fail(row: DBTaskResult, lost_by: str, now: dt.datetime, *, safe: bool) -> int:
    why = (
        f"The worker {lost_by or '(unknown)'} stopped while running this task, "
        f"{len(row.worker_ids)} run(s) in all; "
        + (
            "it was not run again because it already stopped its workers that often."
            if safe
            else "it was not run again because running it twice is not known to be safe."
        )
    )
    changed: int = _still_lost(row).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        return_value=None,
        exception_class_path=WORKER_LOST,
        traceback=why,
    )
    if changed:
        logger.error("Task %s (%s) lost its worker %s: marked failed", row.pk, row.task_path, lost_by)
        _tell_handler(row)
    return changed


def _tell_handler(row: DBTaskResult) -> None:
    handler = getattr(_function(row), LOST_HANDLER, None)
    if handler is None:
        return
    try:
        handler(*row.args_kwargs.get("args", []), **row.args_kwargs.get("kwargs", {}))
    except Exception:
        # The task is failed either way; one handler's bug must not stop the others' recovery.
        logger.exception("The lost task %s's handler failed", row.pk)


class LostTaskWatch:
    """Runs `recover_lost_tasks` at most once per heartbeat staleness period (called after each beat)."""

    def __init__(self) -> None:
        self._last: dt.datetime | None = None

    def __call__(self) -> None:
        now = timezone.now()
        if self._last is not None and now - self._last < stale_after():
            return
        self._last = now
        recover_lost_tasks(now)  # each task it acts on is logged
