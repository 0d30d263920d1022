"""Who hears about a new message: the patient's side through `notify_patient`, staff
through their pool (the assignee alone once a thread is assigned)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.messaging.access import pool_workers
from portal.messaging.models import Message, Thread
from portal.notifications.models import Kind
from portal.notifications.send import notify_patient, notify_staff


def tell_patient_side(thread: Thread, message: Message) -> int:
    """The care team answered: tell the patient and proxies who may message (and may see
    the thread: a parent is not told of a reply in a teenager's confidential thread)."""
    link = reverse("messaging:thread", args=[thread.pk])
    pool_name = thread.pool.name

    def compose() -> tuple[str, str]:
        return _("New message from %(pool)s") % {"pool": pool_name}, _("Open the conversation to read it.")

    return notify_patient(
        thread.patient,
        kind=Kind.MESSAGES,
        key=f"messaging.message:{message.pk}",
        link=link,
        compose=compose,
        sensitivity=thread.sensitivity,
    )


def pool_people(thread: Thread) -> list[User]:
    """The assignee of an assigned thread, or everyone active in its pool who may work it.

    A member who is the patient or their proxy is left out (`pool_access` refuses them).
    """
    if thread.assigned_to is not None and thread.assigned_to.is_active:
        return [thread.assigned_to]
    return list(pool_workers(thread).order_by("pk"))


def tell_staff_side(thread: Thread, message: Message) -> int:
    """The patient wrote: tell the pool (or the assignee) in the staff workspace."""
    link = reverse("inbox:thread", args=[thread.pk])
    title = _("New message in %(pool)s: %(topic)s") % {
        "pool": thread.pool.name,
        "topic": thread.get_topic_display(),
    }
    return notify_staff(pool_people(thread), key=f"messaging.staff:{message.pk}", link=link, title=title)
