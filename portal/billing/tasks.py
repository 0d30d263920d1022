"""Background work for billing, run by `portal worker`: the payment plan sweep.

One sweep charges the plan instalments that are due (`plan_worker.charge_due_instalments`),
sends the notices before the next ones (`plan_worker.send_notices`) and settles payments a
gateway left unanswered (`payments.reconcile_pending`). Every step is safe to run
twice, or twice at once, so the worker, `portal billing_sweep` from cron and a sweep
queued by a new plan may overlap freely.

A new plan queues a sweep for when it next needs one (at once if its first instalment
is due today); each sweep queues the next. Where the task backend cannot run a task
later (the immediate backend of the test settings), only the "at once" sweep runs and
cron's `portal billing_sweep` is what catches up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils import timezone
from django_tasks import task

from portal.billing import payments, plan_worker
from portal.core.lost_tasks import rerun_if_worker_dies

# The sweep for a day runs this long after the day starts (the server's time zone).
DAY_START = dt.time(0, 5)
# How soon to look again at a charge the gateway did not answer (`reconcile_pending`
# settles payments pending for five minutes or more).
PENDING_RECHECK = dt.timedelta(minutes=6)


def sweep(today: dt.date | None = None) -> dict[str, int]:
    """One pass of the plan work; returns what it did."""
    counts = plan_worker.charge_due_instalments(today)
    noticed = plan_worker.send_notices(today)
    settled = payments.reconcile_pending()
    return {**dataclasses.asdict(counts), "notices": noticed, "settled": settled}


@task()
@rerun_if_worker_dies
def run_billing_sweep() -> dict[str, int]:
    """The worker's sweep; queues the next one before it ends."""
    done = sweep()
    schedule_sweep(after_run=True)
    return done


def next_sweep_at(now: dt.datetime, *, after_run: bool = False) -> dt.datetime | None:
    """When the next sweep has something to do (None: no active plan needs one).

    Right after a sweep, what was due today is done (or waits for a later day), so the
    next is tomorrow at the earliest, or in a few minutes for an unanswered charge.
    """
    today = timezone.localdate(now)
    day = plan_worker.next_work_day(today)
    moment = None
    if day is not None:
        if after_run:
            day = max(day, today + dt.timedelta(days=1))
        moment = max(dt.datetime.combine(day, DAY_START, tzinfo=timezone.get_current_timezone()), now)
    if plan_worker.has_pending_charges() or payments.needs_settling(now):
        soon = now + PENDING_RECHECK
        moment = soon if moment is None else min(moment, soon)
    return moment


def schedule_sweep(*, after_run: bool = False) -> None:
    """Queue a sweep for when it is next needed, unless one is already waiting for then."""
    now = timezone.now()
    when = next_sweep_at(now, after_run=after_run)
    if when is None:
        return
    if when <= now and not after_run:
        if not _waiting_by(now):
            run_billing_sweep.enqueue()
        return
    if run_billing_sweep.get_backend().supports_defer and not _waiting_by(when):
        run_billing_sweep.using(run_after=when).enqueue()


def _waiting_by(when: dt.datetime) -> bool:
    """A sweep already queued in the database to run by `when` (so another is not needed)."""
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult, get_date_max
    except ImportError:  # pragma: no cover - the database backend is installed with the portal
        return False
    if not isinstance(run_billing_sweep.get_backend(), DatabaseBackend):
        return False
    queued: Any = DBTaskResult.objects.filter(
        task_path=run_billing_sweep.module_path, status="READY", started_at=None
    )
    return bool(
        queued.filter(run_after__lte=when).exists() or queued.filter(run_after=get_date_max()).exists()
    )
