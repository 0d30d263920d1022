"""Background work for appointments, run by `portal worker`: offering freed slots to the
waitlist and ending offers nobody answered in time."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django_tasks import task

from portal.core.lost_tasks import rerun_if_worker_dies
from portal.scheduling import waitlist


@task()
@rerun_if_worker_dies
def offer_freed_slot(slot_id: int) -> int:
    """Offer a slot a cancellation freed to the first matching waiting patients."""
    return len(waitlist.refresh_offers(slot_id))


@task()
@rerun_if_worker_dies
def expire_offers(slot_id: int) -> int:
    """End the slot's offers whose time ran out, and offer it to the next patients."""
    return len(waitlist.refresh_offers(slot_id))


def schedule_expiry(slot_id: int, expires_at: dt.datetime) -> None:
    """After the transaction commits, queue the expiry for when the offers run out.

    Backends that cannot run a task later (the immediate backend of the test settings)
    skip it; `portal scheduling_sweep` and the tests catch up instead.
    """
    if not expire_offers.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: expire_offers.using(run_after=expires_at).enqueue(slot_id))
