"""Background work for notifications, run by `portal worker`."""

from __future__ import annotations

from django_tasks import task

from portal.notifications import outbox


@task()
def deliver_outbox() -> int:
    """Send every outbox message that is due; returns how many were sent."""
    return outbox.deliver_due()
