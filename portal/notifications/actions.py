"""Every write to notifications and tasks."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.notifications.models import Notification, Task
from portal.patients.access import PatientAccess, record_write


@transaction.atomic
def do_mark_notification_read(actor: Actor, access: PatientAccess, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        record_write(actor, access, "notification.read", obj=notification)


@transaction.atomic
def do_mark_all_notifications_read(actor: Actor, access: PatientAccess) -> int:
    unread = Notification.objects.filter(
        recipient=access.user, patient=access.patient, for_staff=False, read_at__isnull=True
    )
    count = unread.update(read_at=timezone.now())
    if count:
        record_write(actor, access, "notification.read_all", detail={"count": count})
    return count


@transaction.atomic
def do_complete_task(actor: Actor, access: PatientAccess, task: Task) -> None:
    if task.completed_at is None:
        task.completed_at = timezone.now()
        task.save(update_fields=["completed_at"])
        record_write(actor, access, "task.complete", obj=task)


# Staff notifications concern the staff member's work, not access to a patient: their
# audit events name no patient, so they stay out of the patient's access log.


@transaction.atomic
def do_mark_staff_notification_read(actor: Actor, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        record(actor, "notification.staff_read", kind=Kind.WRITE, obj=notification)


@transaction.atomic
def do_mark_all_staff_notifications_read(actor: Actor, user: User) -> int:
    count = Notification.objects.filter(recipient=user, for_staff=True, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if count:
        record(actor, "notification.staff_read_all", kind=Kind.WRITE, detail={"count": count})
    return count
