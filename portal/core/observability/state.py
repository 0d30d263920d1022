"""Gauges read from the database when Prometheus scrapes: a fixed four queries, however
long the queue or the outbox."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from portal.core.lost_tasks import WORKER_LOST
from portal.core.observability import heartbeat
from portal.notifications.models import OutboxMessage
from portal.notifications.outbox import due

logger = logging.getLogger(__name__)

CHANNELS = tuple(OutboxMessage.Channel.values)
LOST_WINDOW = dt.timedelta(hours=24)


class DatabaseStateCollector(Collector):
    """Queue depth, running and lost tasks, outbox lag and the workers' heartbeats."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            queues = dict(
                DBTaskResult.objects.ready()
                .values("queue_name")
                .annotate(n=Count("pk"))
                .order_by()
                .values_list("queue_name", "n")
            )
            # Only running and failed rows are read (core migration 0002's index leads with the
            # status); the daily prune keeps four weeks of failures.
            tasks = DBTaskResult.objects.filter(
                status__in=(TaskResultStatus.RUNNING, TaskResultStatus.FAILED)
            ).aggregate(
                running=Count("pk", filter=Q(status=TaskResultStatus.RUNNING)),
                lost=Count(
                    "pk",
                    filter=Q(
                        status=TaskResultStatus.FAILED,
                        exception_class_path=WORKER_LOST,
                        finished_at__gte=now - LOST_WINDOW,
                    ),
                ),
            )
            outbox = {
                row["channel"]: (row["n"], row["oldest"])
                for row in due(now)
                .values("channel")
                .annotate(n=Count("pk"), oldest=Min("send_after"))
                .order_by()
            }
            latest_beat, alive = heartbeat.summary(now)
        except DatabaseError as error:
            logger.warning("Metrics could not read the database: %s", type(error).__name__)
            yield _gauge("portal_metrics_database_up", "Whether this scrape could read the database.", 0)
            return
        yield _gauge("portal_metrics_database_up", "Whether this scrape could read the database.", 1)
        yield from _queue_gauges(queues)
        yield _gauge(
            "portal_task_queue_running_tasks",
            "Background tasks claimed by a worker and not finished.",
            tasks["running"],
        )
        yield _gauge(
            "portal_tasks_lost_failed",
            "Background tasks failed in the last 24 hours because their worker died (not run again).",
            tasks["lost"],
        )
        yield from _outbox_gauges(outbox, now)
        age = (now - latest_beat).total_seconds() if latest_beat else float("inf")
        yield _gauge(
            "portal_worker_heartbeat_age_seconds",
            "Seconds since the freshest worker heartbeat (+Inf: no worker has ever beaten).",
            age,
        )
        yield _gauge("portal_workers_alive", "Workers whose heartbeat is fresh (within 3 beats).", alive)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _queue_gauges(queues: dict[str, int]) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "portal_task_queue_ready_tasks",
        "Background tasks ready to run and not yet claimed, by queue.",
        labels=["queue"],
    )
    for queue in sorted(queues.keys() | {"default"}):
        depth.add_metric([queue], queues.get(queue, 0))
    yield depth


def _outbox_gauges(outbox: dict[str, tuple[int, dt.datetime]], now: dt.datetime) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "portal_outbox_due_messages",
        "Notifications due to be sent and not yet delivered, by channel.",
        labels=["channel"],
    )
    lag = GaugeMetricFamily(
        "portal_outbox_lag_seconds",
        "How long the oldest due, undelivered notification has waited past its send time, by channel.",
        labels=["channel"],
    )
    for channel in CHANNELS:
        count, oldest = outbox.get(channel, (0, now))
        waiting.add_metric([channel], count)
        lag.add_metric([channel], max((now - oldest).total_seconds(), 0.0))
    yield waiting
    yield lag
