"""Tasks for the lost-task tests: each notes its run in a file, then waits for a release file.

The worker processes of `test_lost_tasks` import them by their dotted path, as a worker
imports any queued task.
"""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task

from portal.core.lost_tasks import rerun_if_worker_dies

WAIT_SECONDS = 60.0


def _note_and_wait(name: str, folder: str) -> str:
    place = Path(folder)
    with (place / "runs.log").open("a") as runs:
        runs.write(f"{name}\n")
    deadline = time.monotonic() + WAIT_SECONDS
    while not (place / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return name


@task()
@rerun_if_worker_dies
def safe_to_rerun(folder: str) -> str:
    return _note_and_wait("safe", folder)


@task()
def not_safe_to_rerun(folder: str) -> str:
    return _note_and_wait("unsafe", folder)
