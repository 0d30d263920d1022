"""Telling pools about overdue conversations: once per thread for each response-time target.

A thread is overdue when it is open (new or in progress) and its `due_at` has passed.
Every active member of its pool is told in the staff workspace and by the fixed staff
email, once per (thread, `due_at`): the in-app notification's link carries the target
(`?due=<epoch seconds>`) and the email's outbox row has a unique `dedupe_key`, so a
second sweep, or two sweeps at once (the thread row is locked), finds both and tells
nobody again. A patient writing again after staff answered starts a new target, and so
a new reminder.

Run by `portal messaging_sweep` from cron (as `scheduling_sweep` is), or by the worker
as the `sweep_overdue_threads` task; `schedule_overdue_check` queues that task for the
moment a target runs out, where the task backend can run tasks later.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from portal.accounts.models import User
from portal.core.lost_tasks import rerun_if_worker_dies
from portal.messaging.models import Thread
from portal.notifications.models import Notification, OutboxMessage
from portal.notifications.send import notify_staff

BATCH = 200


def _target(thread: Thread) -> int:
    """The response-time target as epoch seconds: what makes each reminder distinct."""
    return int(thread.due_at.timestamp()) if thread.due_at is not None else 0


def overdue_key(thread: Thread) -> str:
    return f"messaging.overdue:{thread.pk}:{_target(thread)}"


def overdue_link(thread: Thread) -> str:
    return f"{reverse('inbox:thread', args=[thread.pk])}?due={_target(thread)}"


def overdue_threads(now: dt.datetime) -> list[int]:
    return list(
        Thread.objects.filter(status__in=Thread.OPEN_STATUSES, due_at__lt=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)
    )


def sweep_overdue(now: dt.datetime | None = None) -> int:
    """Tell each overdue thread's pool, once; returns how many people were told."""
    now = now or timezone.now()
    return sum(notify_overdue(thread_id, now) for thread_id in overdue_threads(now))


def notify_overdue(thread_id: int, now: dt.datetime) -> int:
    """Tell the pool's members who have not yet heard that this thread is overdue."""
    with transaction.atomic():
        thread = (
            Thread.objects.select_for_update(of=("self",))
            .select_related("pool", "assigned_to")
            .filter(pk=thread_id, status__in=Thread.OPEN_STATUSES, due_at__lt=now)
            .first()
        )
        if thread is None:
            return 0
        everyone = pool_people(thread)
        told = already_told(thread, everyone)
        people = [person for person in everyone if person.pk not in told]
        if not people:
            return 0
        title = _("Overdue in %(pool)s: %(topic)s") % {
            "pool": thread.pool.name,
            "topic": thread.get_topic_display(),
        }
        return notify_staff(
            people, key=overdue_key(thread), link=overdue_link(thread), title=title, email=True
        )


def pool_people(thread: Thread) -> list[User]:
    """Everyone active in the thread's pool, and whoever has the thread if they are not."""
    people = list(
        User.objects.filter(
            practitioner__care_teams=thread.pool_id, practitioner__active=True, is_active=True
        )
        .distinct()
        .order_by("pk")
    )
    assignee = thread.assigned_to
    if assignee is not None and assignee.is_active and all(person.pk != assignee.pk for person in people):
        people.append(assignee)
    return people


def already_told(thread: Thread, people: list[User]) -> set[int]:
    """Which of `people` heard about the thread's current target: by email or in the portal.

    Exact keys and the recipients' own notifications, so both lookups use an index.
    """
    key = overdue_key(thread)
    keys = [f"{key}:{person.pk}:{OutboxMessage.Channel.EMAIL}"[:200] for person in people]
    emailed = OutboxMessage.objects.filter(dedupe_key__in=keys).values_list("recipient_id", flat=True)
    notified = Notification.objects.filter(
        recipient__in=people, for_staff=True, link=overdue_link(thread)
    ).values_list("recipient_id", flat=True)
    return set(emailed) | set(notified)


@task()
@rerun_if_worker_dies
def sweep_overdue_threads() -> int:
    """The worker's run of the overdue sweep."""
    return sweep_overdue()


def schedule_overdue_check(thread: Thread) -> None:
    """After the transaction commits, have the worker sweep when the thread's target runs out.

    Backends that cannot run a task later (the immediate backend of the test settings)
    skip it; `portal messaging_sweep` catches up instead.
    """
    due_at = thread.due_at
    if due_at is None or not sweep_overdue_threads.get_backend().supports_defer:
        return
    # A moment after the target, so the thread is past it when the sweep looks.
    run_after = due_at + dt.timedelta(seconds=1)
    transaction.on_commit(lambda: sweep_overdue_threads.using(run_after=run_after).enqueue())
