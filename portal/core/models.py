"""The core app's one model: the background worker's heartbeat, read by `/readyz` and `/metrics`."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each `portal worker` process said it was alive.

    One row per worker id, rewritten every `PORTAL_WORKER_HEARTBEAT_SECONDS`; a row that
    stops changing is a worker that stopped. It lives in the database, not the cache,
    because every app server must see every worker's beat and the database is the one
    store they all share (the cache is per process unless Redis is configured).
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname} (pid {self.pid})"
