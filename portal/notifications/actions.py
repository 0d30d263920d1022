"""Every write to notifications and tasks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.notifications.models import Notification, Task
from portal.patients.access import PatientAccess


@transaction.atomic
def do_mark_notification_read(actor: Actor, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])


@transaction.atomic
def do_mark_all_notifications_read(actor: Actor, access: PatientAccess) -> int:
    return Notification.objects.filter(
        recipient=access.user, patient=access.patient, read_at__isnull=True
    ).update(read_at=timezone.now())


@transaction.atomic
def do_complete_task(actor: Actor, access: PatientAccess, task: Task) -> None:
    if task.completed_at is None:
        task.completed_at = timezone.now()
        task.save(update_fields=["completed_at"])
        record(
            actor,
            "task.complete",
            kind=Kind.WRITE,
            role=access.role.value,
            patient=access.patient,
            obj=task,
        )
