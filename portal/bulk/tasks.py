"""Background work for bulk export, run by `portal worker`: writing export jobs, and the sweep.

A kick-off queues `run_export`; the worker claims the job (QUEUED -> RUNNING in one
conditional UPDATE, so two workers never write the same job), writes its files, audits
the exported patients and marks it COMPLETE with an expiry. The `sweep_exports` task
(queued to run when each export expires) and `portal bulk_sweep` (cron, hourly) delete
expired jobs with their files, and fail jobs a dead worker left running.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from portal.bulk import export
from portal.bulk.models import ExportJob
from portal.core.lost_tasks import rerun_if_worker_dies, when_worker_dies

log = logging.getLogger(__name__)
FAILED_MESSAGE = "The export could not be completed. Start a new export; if it fails again, tell the clinic."


def expiry_hours() -> int:
    return max(1, int(settings.PORTAL_BULK_EXPORT_HOURS))


def fail_lost_export(job_id: int) -> None:
    """The worker writing the job died: fail the job now (not an expiry period later), so
    the service polling it learns and can start another. Not run again instead: a killed
    worker's forked processes may still be writing its files."""
    unfinished = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    now = timezone.now()
    # Failed first and only if unfinished, then its files removed: a job that finished
    # meanwhile (COMPLETE, its files written) keeps them, and forked processes still
    # writing see it failed and stop.
    failed = ExportJob.objects.filter(pk=job_id, status__in=unfinished).update(
        status=ExportJob.Status.FAILED,
        error=FAILED_MESSAGE,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=expiry_hours()),
    )
    if failed:
        export.remove_files(ExportJob.objects.get(pk=job_id))


@task()
@when_worker_dies(fail_lost_export)
def run_export(job_id: int) -> str:
    """Write one queued export job; returns the status it ended in."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=now, progress="Starting"
    )
    if not claimed:
        return "not queued"
    job = ExportJob.objects.select_related("service", "group").get(pk=job_id)
    if not export.still_allowed(job):
        return _fail(job, "The service may no longer make this export.")
    try:
        files = export.write_job(job)
        audited = export.audit_export(job, export.exported_patients(job))
    except export.Cancelled:
        export.remove_files(job)
        return "cancelled"
    except Exception:
        log.exception("Bulk export %s failed", job_id)
        return _fail(job, FAILED_MESSAGE)
    finished = timezone.now()
    done = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.COMPLETE,
        finished_at=finished,
        expires_at=finished + dt.timedelta(hours=expiry_hours()),
        progress=f"Complete: {sum(item.count for item in files):,} resources, {audited:,} patients",
    )
    if not done:  # cancelled between the last chunk and now
        export.remove_files(job)
        return "cancelled"
    _sweep_after(finished + dt.timedelta(hours=expiry_hours(), minutes=1))
    return ExportJob.Status.COMPLETE


def _sweep_after(when: dt.datetime) -> None:
    """Queue the sweep for when this export expires, so its files go without cron.

    Backends that cannot run a task later (the immediate backend of the test settings)
    rely on `portal bulk_sweep` instead.
    """
    if sweep_exports.get_backend().supports_defer:
        sweep_exports.using(run_after=when).enqueue()


def _fail(job: ExportJob, message: str) -> str:
    export.remove_files(job)
    now = timezone.now()
    # FAILED too: a process of a divided export marks it failed at once, to stop the others.
    failing = (ExportJob.Status.RUNNING, ExportJob.Status.FAILED)
    ExportJob.objects.filter(pk=job.pk, status__in=failing).update(
        status=ExportJob.Status.FAILED,
        error=message,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=expiry_hours()),
    )
    return ExportJob.Status.FAILED


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Delete expired and cancelled jobs with their files; fail jobs stuck running or queued.

    A job still RUNNING or QUEUED a whole expiry period after it was asked for lost its
    worker (or was never picked up); it is failed so the service can start another.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(hours=expiry_hours())
    stuck = ExportJob.objects.filter(
        status__in=(ExportJob.Status.QUEUED, ExportJob.Status.RUNNING), requested_at__lt=stale
    )
    # Kept (failed) for another expiry period, so the service polling it learns what happened.
    failed = stuck.update(
        status=ExportJob.Status.FAILED,
        error=FAILED_MESSAGE,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=expiry_hours()),
    )
    finished = Q(expires_at__lte=now) & ~Q(status__in=(ExportJob.Status.QUEUED, ExportJob.Status.RUNNING))
    forgotten = Q(status=ExportJob.Status.CANCELLED, requested_at__lt=stale)
    gone = ExportJob.objects.filter(finished | forgotten)
    deleted = 0
    for job in gone.order_by("pk").iterator(chunk_size=200):
        with transaction.atomic():
            export.remove_files(job)
            job.delete()
        deleted += 1
    return {"failed": failed, "deleted": deleted}


@task()
@rerun_if_worker_dies
def sweep_exports() -> dict[str, int]:
    return sweep()
