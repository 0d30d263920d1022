"""Tasks a killed worker left running are queued again where that is safe, failed otherwise
(portal/core/lost_tasks.py); the last test kills real `portal worker` processes."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult, get_date_max

import portal
from portal.bulk import export
from portal.bulk.models import ExportFile, ExportJob
from portal.bulk.tasks import FAILED_MESSAGE, run_export
from portal.bulk.tests.support import make_service
from portal.core.lost_tasks import (
    LOST_HANDLER,
    MAX_RUNS,
    RERUN_MARK,
    LostTaskWatch,
    Recovered,
    recover_lost_tasks,
    rerun_if_worker_dies,
)
from portal.core.observability import heartbeat
from portal.core.tests import lost_task_support
from portal.scheduling.tests.app_servers import server_environment, shared_database
from portal.test import answer_of_new_process

SAFE = lost_task_support.safe_to_rerun.module_path
UNSAFE = lost_task_support.not_safe_to_rerun.module_path
# Every module that defines the portal's background tasks.
TASK_MODULES = [
    "portal.billing.tasks",
    "portal.bulk.tasks",
    "portal.messaging.sweep",
    "portal.notifications.tasks",
    "portal.records.tasks",
    "portal.scheduling.tasks",
    "portal.telehealth.tasks",
]
# Tasks failed when their worker dies, not run again; each has a handler that tells
# whoever waits for it.
NOT_RERUN = {
    # A killed worker's forked processes may still be writing the job's files; its job is
    # failed at once instead, and the service starts another.
    "portal.bulk.tasks.run_export",
}


def running(
    task_path: str, *worker_ids: str, minutes_ago: float = 5, args: Any = ("/nowhere",)
) -> DBTaskResult:
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING,
        task_path=task_path,
        args_kwargs={"args": list(args), "kwargs": {}},
        backend_name="default",
        run_after=get_date_max(),
        started_at=started,
        worker_ids=list(worker_ids),
    )


def alive(worker_id: str, started_minutes_ago: float = 0) -> None:
    heartbeat.beat(worker_id, timezone.now() - dt.timedelta(minutes=started_minutes_ago))


def dead(worker_id: str) -> None:
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    heartbeat.beat(worker_id, long_ago, now=long_ago)


def test_a_safe_task_of_a_dead_worker_is_queued_again(db: None) -> None:
    dead("w1")
    row = running(SAFE, "w1")
    assert recover_lost_tasks().queued_again == 1
    row.refresh_from_db()
    assert (row.status, row.started_at, row.worker_ids) == (TaskResultStatus.READY, None, ["w1"])
    assert DBTaskResult.objects.ready().get() == row


def test_any_other_task_of_a_dead_worker_is_failed_with_the_reason(db: None) -> None:
    dead("w1")
    row = running(UNSAFE, "w1")
    assert recover_lost_tasks().failed == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert row.finished_at is not None
    assert row.exception_class_path == "portal.core.lost_tasks.WorkerLost"
    assert "The worker w1 stopped while running this task" in row.traceback
    assert "running it twice is not known to be safe" in row.traceback


def test_a_task_of_a_worker_without_a_heartbeat_is_lost_too(db: None) -> None:
    row = running(SAFE, "gone-for-a-day")  # its row was forgotten, or it never beat
    assert recover_lost_tasks().queued_again == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.READY


def test_a_task_of_an_earlier_process_with_the_same_worker_id_is_lost(db: None) -> None:
    row = running(SAFE, "fixed-id")  # claimed five minutes ago
    alive("fixed-id")  # the id's new process started just now (a restart after a kill)
    assert recover_lost_tasks().queued_again == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.READY


def test_tasks_of_live_workers_and_fresh_claims_are_left_alone(db: None) -> None:
    alive("w1", started_minutes_ago=60)
    dead("w2")
    of_the_living = running(UNSAFE, "w2", "w1")
    just_claimed = running(UNSAFE, "w3", minutes_ago=0)
    assert recover_lost_tasks() == Recovered(0, 0)
    for row in (of_the_living, just_claimed):
        row.refresh_from_db()
        assert row.status == TaskResultStatus.RUNNING


def test_a_task_that_keeps_killing_its_workers_is_failed_after_max_runs(db: None) -> None:
    workers = [f"w{number}" for number in range(MAX_RUNS)]
    for worker in workers:
        dead(worker)
    row = running(SAFE, *workers)
    assert recover_lost_tasks().failed == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert "already stopped its workers that often" in row.traceback


def test_a_task_whose_code_is_gone_is_failed(db: None) -> None:
    row = running("portal.no_such_module.task", "w1")
    assert recover_lost_tasks().failed == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED


@pytest.mark.parametrize("status", [ExportJob.Status.RUNNING, ExportJob.Status.QUEUED])
def test_a_lost_export_fails_its_job_at_once(db: None, status: str) -> None:
    job = ExportJob.objects.create(
        service=make_service("Data warehouse", all_patients=True),
        level=ExportJob.Level.SYSTEM,
        request_url="x",
        status=status,
    )
    row = running(run_export.module_path, "w1", args=[job.pk])
    assert recover_lost_tasks().failed == 1
    job.refresh_from_db()
    assert (job.status, job.error) == (ExportJob.Status.FAILED, FAILED_MESSAGE)
    assert job.expires_at is not None
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED


@pytest.mark.parametrize(
    ("status", "kept"), [(ExportJob.Status.COMPLETE, True), (ExportJob.Status.RUNNING, False)]
)
def test_a_lost_export_removes_the_files_of_an_unfinished_job_only(
    db: None, settings: Any, tmp_path: Path, status: str, kept: bool
) -> None:
    settings.PORTAL_BULK_EXPORT_DIR = tmp_path
    job = ExportJob.objects.create(
        service=make_service("Data warehouse", all_patients=True),
        level=ExportJob.Level.SYSTEM,
        request_url="x",
        status=status,
    )
    written = export.job_directory(job) / "Patient.ndjson"
    written.parent.mkdir(parents=True)
    written.write_text("{}\n")
    ExportFile.objects.create(job=job, resource_type="Patient", name="Patient.ndjson", count=1)
    running(run_export.module_path, "w1", args=[job.pk])
    assert recover_lost_tasks().failed == 1
    job.refresh_from_db()
    assert job.status == (status if kept else ExportJob.Status.FAILED)
    assert written.exists() is kept
    assert ExportFile.objects.filter(job=job).exists() is kept


def test_a_failing_lost_task_handler_does_not_stop_the_others(db: None, caplog: Any) -> None:
    first = running(run_export.module_path, "w1", args=["not a number"])
    second = running(UNSAFE, "w1")
    assert recover_lost_tasks().failed == 2
    for row in (first, second):
        row.refresh_from_db()
        assert row.status == TaskResultStatus.FAILED
    assert "handler failed" in caplog.text


def test_finished_and_waiting_tasks_are_not_touched(db: None) -> None:
    row = running(SAFE, "w1")
    DBTaskResult.objects.filter(pk=row.pk).update(status=TaskResultStatus.SUCCESSFUL)
    assert recover_lost_tasks() == Recovered(0, 0)
    row.refresh_from_db()
    assert row.status == TaskResultStatus.SUCCESSFUL


def test_the_watch_looks_once_per_staleness_period(
    db: None, django_assert_num_queries: Any, settings: Any
) -> None:
    settings.PORTAL_WORKER_HEARTBEAT_SECONDS = 60
    watch = LostTaskWatch()
    dead("w1")
    row = running(SAFE, "w1")
    watch()
    row.refresh_from_db()
    assert row.status == TaskResultStatus.READY
    with django_assert_num_queries(0):
        watch()


def test_a_rerun_mark_keeps_the_function_a_task() -> None:
    def sample() -> int:
        return 1

    assert rerun_if_worker_dies(sample) is sample
    assert sample() == 1


def test_every_portal_task_is_either_safe_to_rerun_or_listed_as_not() -> None:
    """A new task must say what happens when its worker dies."""
    tasks = [
        value
        for module in TASK_MODULES
        for value in vars(importlib.import_module(module)).values()
        if isinstance(value, Task) and value.func.__module__ == module
    ]
    assert len(tasks) >= 9
    not_marked = {task.module_path for task in tasks if not getattr(task.func, RERUN_MARK, False)}
    assert not_marked == NOT_RERUN
    assert all(getattr(task.func, LOST_HANDLER, None) for task in tasks if task.module_path in NOT_RERUN)


def test_every_task_module_is_listed() -> None:
    root = Path(portal.__file__).parent
    defining = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for path in root.rglob("*.py")
        if "tests" not in path.parts and re.search(r"^@task\(", path.read_text(), re.MULTILINE)
    }
    assert defining == set(TASK_MODULES)


# --- real workers, killed


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    place = tmp_path / "runs"
    place.mkdir()
    return place


@pytest.fixture
def worker_environment(transactional_db: None, tmp_path: Path, folder: Path) -> dict[str, str]:
    for task_path in (SAFE, UNSAFE):
        DBTaskResult.objects.create(
            task_path=task_path,
            args_kwargs={"args": [str(folder)], "kwargs": {}},
            backend_name="default",
            run_after=get_date_max(),
        )
    environment = server_environment(shared_database(tmp_path))
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.core.tests.crash_settings",  # the database task queue
            "PORTAL_WORKER_HEARTBEAT_SECONDS": "1",
        }
    )
    return environment


class Workers:
    def __init__(self, environment: dict[str, str], logs: Path) -> None:
        self.environment = environment
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, worker_id: str, *options: str) -> subprocess.Popen[bytes]:
        argv = [
            sys.executable,
            "-m",
            "portal",
            "worker",
            "--worker-id",
            worker_id,
            "--interval",
            "0.05",
            "--no-startup-delay",
        ]
        log = (self.logs / f"{worker_id}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603  (argv built here from fixed parts)
            [*argv, *options],
            cwd=Path(portal.__file__).resolve().parent.parent,
            env=self.environment,
            stdout=log,
            stderr=log,
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_environment: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    started = Workers(worker_environment, tmp_path)
    yield started
    started.stop_all()


def _wait_for(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _runs(folder: Path) -> list[str]:
    log = folder / "runs.log"
    return sorted(log.read_text().split()) if log.exists() else []


def _task_rows(environment: dict[str, str]) -> dict[str, Any]:
    """The task rows as a new process sees them (the SQLite copy is not the test's database)."""
    script = (
        "import django, json; django.setup()\n"
        "from django_tasks_db.models import DBTaskResult\n"
        "print(json.dumps({row.task_path: [row.status, row.worker_ids, row.exception_class_path]"
        " for row in DBTaskResult.objects.all()}))"
    )
    database = {key: environment[key] for key in ("DATABASE_URL", "PORTAL_DATA_DIR") if key in environment}
    answer: dict[str, Any] = answer_of_new_process(script, **database)
    return answer


def test_killed_workers_tasks_run_again_on_another_or_fail(
    workers: Workers, worker_environment: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    first = [workers.start(f"first-{number}-{uuid.uuid4().hex[:6]}") for number in range(2)]
    _wait_for(lambda: _runs(folder) == ["safe", "unsafe"], "both tasks to start, one per worker")
    for process in first:
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    (folder / "release").touch()
    # Three missed beats (one second each) and the killed workers count as dead.
    time.sleep(3.5)
    last = workers.start("last", "--batch")
    assert last.wait(timeout=60) == 0, (tmp_path / "last.log").read_text(errors="replace")

    assert _runs(folder) == ["safe", "safe", "unsafe"]
    rows = _task_rows(worker_environment)
    safe_status, safe_workers, _ = rows[SAFE]
    assert safe_status == TaskResultStatus.SUCCESSFUL
    assert len(safe_workers) == 2 and safe_workers[0].startswith("first-") and safe_workers[1] == "last"
    unsafe_status, unsafe_workers, exception = rows[UNSAFE]
    assert (unsafe_status, exception) == (TaskResultStatus.FAILED, "portal.core.lost_tasks.WorkerLost")
    assert len(unsafe_workers) == 1
    log = (tmp_path / "last.log").read_text(errors="replace")
    assert "Traceback" not in log


def test_the_look_for_lost_tasks_reads_an_index_not_the_whole_table(db: None) -> None:
    query = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=timezone.now())
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table is cheapest to scan
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "portal_tasks_status_started" in plan, plan


def test_the_metrics_count_running_and_lost_tasks(db: None, client: Any) -> None:
    alive("w1", started_minutes_ago=60)
    running(SAFE, "w1")  # running on a live worker
    dead("w2")
    running(UNSAFE, "w2")  # lost today
    lost_long_ago = running(UNSAFE, "w2", minutes_ago=10)
    assert recover_lost_tasks().failed == 2
    DBTaskResult.objects.filter(pk=lost_long_ago.pk).update(finished_at=timezone.now() - dt.timedelta(days=2))
    DBTaskResult.objects.filter(pk=running(UNSAFE, "w1").pk).update(  # failed, but not for a lost worker
        status=TaskResultStatus.FAILED, finished_at=timezone.now(), exception_class_path="builtins.ValueError"
    )
    exposition = client.get("/metrics").content.decode()
    assert "portal_task_queue_running_tasks 1.0" in exposition
    assert "portal_tasks_lost_failed 1.0" in exposition
