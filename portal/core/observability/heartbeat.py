"""The worker's heartbeat: each `portal worker` rewrites its row every
PORTAL_WORKER_HEARTBEAT_SECONDS; a worker is alive while its row is younger than three beats.

The beat comes from a thread beside the worker's loop, so a long task does not make the
worker look dead. It therefore proves the process is running and can write to the
database, not that the loop is moving: the queue-depth metric shows that.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from portal.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Rows of workers gone this long are deleted when a worker starts (each start has a new id).
FORGET_AFTER = dt.timedelta(days=1)


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=3 * settings.PORTAL_WORKER_HEARTBEAT_SECONDS)


def beat(worker_id: str, started_at: dt.datetime, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(beat_at=now):
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=started_at,
            beat_at=now,
        )


def latest_beat() -> dt.datetime | None:
    latest: dt.datetime | None = WorkerHeartbeat.objects.aggregate(latest=Max("beat_at"))["latest"]
    return latest


def summary(now: dt.datetime) -> tuple[dt.datetime | None, int]:
    """The freshest beat and how many workers are alive, in one query."""
    row = WorkerHeartbeat.objects.aggregate(
        latest=Max("beat_at"), alive=Count("pk", filter=Q(beat_at__gte=now - stale_after()))
    )
    return row["latest"], row["alive"]


def is_fresh(latest: dt.datetime | None, now: dt.datetime) -> bool:
    return latest is not None and now - latest <= stale_after()


class Heartbeat:
    """Beats once at once (a worker that cannot reach the database fails at start), then
    every `interval` seconds from a daemon thread until `stop()`. `after_beat`, if given,
    runs after every beat, in the same thread (the worker's look for lost tasks)."""

    def __init__(self, worker_id: str, interval: float, after_beat: Callable[[], None] | None = None) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.after_beat = after_beat
        self.started_at = timezone.now()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-heartbeat", daemon=True)

    def start(self) -> None:
        WorkerHeartbeat.objects.filter(beat_at__lt=self.started_at - FORGET_AFTER).delete()
        beat(self.worker_id, self.started_at)
        if self.after_beat is not None:
            self.after_beat()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                beat(self.worker_id, self.started_at)
                if self.after_beat is not None:
                    self.after_beat()
            except DatabaseError as error:
                # Missed beats are what /readyz reports; keep trying.
                logger.warning("Worker heartbeat failed: %s", type(error).__name__)
            except Exception:
                # A bug in after_beat must not stop the beats: a worker that stops beating
                # is taken for dead, and its running tasks for lost.
                logger.exception("After the worker's heartbeat")
            finally:
                # This thread's own connection: give it back between beats (to the pool on
                # PostgreSQL) rather than hold one open per worker for nothing.
                connection.close()
