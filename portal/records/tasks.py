"""Background work for the record, run by `portal worker`."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from portal.core.lost_tasks import rerun_if_worker_dies
from portal.records.models import ResultReport


@task()
@rerun_if_worker_dies
def notify_when_hold_ends(report_id: int) -> bool:
    """Tell the patient about a held result once its hold has run out by itself.

    A clinician who releases early notifies then (`released_by` is set), and a patient
    who asked to wait for review is told when it is reviewed; both cases skip here. So
    does a run after one that told them (a worker killed after telling, before marking
    the task done, has it run again). Returns whether anyone was told.
    """
    from portal.records.actions import notify_new_result, released_to_patient_now, told_since

    with transaction.atomic():
        report = (
            ResultReport.objects.select_for_update().filter(pk=report_id).select_related("patient").first()
        )
        if report is None or report.released_by_id is not None or not released_to_patient_now(report):
            return False
        if told_since(report, report.available_at):
            return False
        notify_new_result(report)
        return True


def schedule_hold_end(report: ResultReport) -> None:
    """After the transaction commits, queue the notice for when the hold ends.

    Backends that cannot run a task later (the immediate backend of the test settings)
    skip it; tests call the task directly.
    """
    if not notify_when_hold_ends.get_backend().supports_defer:
        return
    transaction.on_commit(
        lambda: notify_when_hold_ends.using(run_after=report.available_at).enqueue(report.pk)
    )
