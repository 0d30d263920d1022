"""Background work for video visits, run by `portal worker`: closing visits whose window has passed.

Joining a visit queues `close_visit` for when its window closes; `portal telehealth_sweep`
(cron, or by hand) does the same for every visit and deletes leftover signaling, for
backends that cannot run a task later (the immediate backend of the test settings).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.core.lost_tasks import rerun_if_worker_dies
from portal.telehealth.evisits import sweep_evisits
from portal.telehealth.models import Participant, Signal, VideoVisit
from portal.telehealth.signaling import purge_stale_signals


@task()
@rerun_if_worker_dies
def close_visit(visit_id: int) -> bool:
    """End one visit left open past its window (everyone closed their pages without ending it)."""
    visit = VideoVisit.objects.filter(pk=visit_id).select_related("appointment__patient").first()
    return visit is not None and _close(visit, timezone.now())


def schedule_close(visit: VideoVisit, closes_at: dt.datetime) -> None:
    """After the transaction commits, queue the visit's closing for when its window ends."""
    if not close_visit.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: close_visit.using(run_after=closes_at).enqueue(visit.pk))


def _close(visit: VideoVisit, now: dt.datetime) -> bool:
    from portal.telehealth.access import closes_at

    if visit.is_ended or closes_at(visit.appointment) > now:
        return False
    with transaction.atomic():
        changed = (
            VideoVisit.objects.filter(pk=visit.pk)
            .exclude(status=VideoVisit.Status.ENDED)
            .update(status=VideoVisit.Status.ENDED, ended_at=now)
        )
        if not changed:
            return False
        visit.participants.filter(
            status__in=(Participant.Status.WAITING, Participant.Status.ADMITTED)
        ).update(status=Participant.Status.LEFT, left_at=now)
        Signal.objects.filter(visit=visit).delete()
        record(
            Actor.system(),
            "telehealth.closed",
            kind=Kind.WRITE,
            patient=visit.appointment.patient,
            obj=visit,
        )
    return True


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Close every visit past its window and delete stale signaling; returns the counts."""
    now = now or timezone.now()
    open_visits = (
        VideoVisit.objects.exclude(status=VideoVisit.Status.ENDED)
        .filter(appointment__ends_at__lt=now)
        .select_related("appointment__patient")
        .order_by("pk")
    )
    closed = sum(_close(visit, now) for visit in open_visits.iterator(chunk_size=200))
    sweep_evisits(now)  # e-visit drafts, stopped ones and withdrawn photos past keeping
    return {"closed": closed, "signals_deleted": purge_stale_signals(now)}
