"""Background work for notifications, run by `portal worker`."""

from __future__ import annotations

from django_tasks import task

from portal.core.lost_tasks import rerun_if_worker_dies
from portal.notifications import outbox


@task()
@rerun_if_worker_dies
def deliver_outbox() -> int:
    """Send every outbox message that is due; returns how many were sent."""
    return outbox.deliver_due()
