"""Every write to conversations: starting one, replying, reading.

Each action is atomic and audited, and tells the other side in the same transaction.
Attachments arrive already checked (`lib/uploads.py`); they are stored under random
names with the message they belong to, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.lib.uploads import CheckedFile
from portal.messaging import routing
from portal.messaging.confidential import category, hidden_from, most_sensitive
from portal.messaging.models import Attachment, Message, Thread, Topic
from portal.messaging.notify import tell_patient_side, tell_staff_side
from portal.messaging.sweep import schedule_overdue_check
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope
from portal.records.models import ResultReport
from portal.scheduling.models import Appointment

# A send-once key already used for something else: only a stale or crafted form does that.
RESENT = gettext_lazy("This form was already used to send a message. Reload the page and write again.")


class MessageRefused(Exception):
    """The message cannot be sent; the text says why, for the sender."""


@dataclass(frozen=True)
class Draft:
    """What the sender wrote, checked by the form: text, files and what it is about."""

    body: str
    files: Sequence[CheckedFile] = ()
    result: ResultReport | None = None
    appointment: Appointment | None = None
    # The form's send-once key ("" when there is none): see `Message.client_key`.
    client_key: str = ""


@transaction.atomic
def do_start_thread(
    actor: Actor,
    access: PatientAccess,
    *,
    topic: str,
    care_team: CareTeam | None,
    subject: str,
    draft: Draft,
    sensitivity: str = "",
) -> Thread:
    """A patient (or proxy who may message) writes to a pool, chosen by `routing.pool_for`.

    The thread takes the confidential category of what it is about (`sensitivity`, from a
    refill's medications, or the linked result's), so it is kept from whoever the record
    keeps that from.
    """
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise MessageRefused(_("You cannot send messages for this patient."))
    earlier = already_sent(access.user, draft)
    if earlier is not None and earlier.thread.patient_id == access.patient.pk:
        return earlier.thread
    if earlier is not None:
        raise MessageRefused(RESENT)
    if (
        care_team is not None
        and not routing.patient_care_teams(access.patient).filter(pk=care_team.pk).exists()
    ):
        raise MessageRefused(_("Choose one of your care teams."))
    _check_links(access, draft)
    sensitivity = most_sensitive([sensitivity, *linked_sensitivities(draft)])
    if sensitivity and access.hides(sensitivity):
        # The forms never offer such a result or medication to this access.
        raise MessageRefused(_("Choose one of your own results or appointments."))
    about = draft.appointment.campus if topic == Topic.APPOINTMENT and draft.appointment else None
    try:
        pool = routing.pool_for(topic, access.patient, care_team, about)
    except routing.NoPool as error:
        raise MessageRefused(str(error)) from error
    now = timezone.now()
    thread = Thread.objects.create(
        patient=access.patient,
        topic=topic,
        subject=subject,
        pool=pool,
        care_team=care_team,
        campus=pool.campus or (care_team.campus if care_team else None) or access.patient.primary_campus,
        started_by=access.user,
        created_at=now,
        last_message_at=now,
        due_at=routing.due_at(topic, now),
        sensitivity=sensitivity,
    )
    message = add_message(thread, access, draft, now)
    record_write(
        actor, access, "messaging.thread_start", obj=thread, detail={"topic": topic, "pool": pool.pk}
    )
    tell_staff_side(thread, message)
    schedule_overdue_check(thread)
    return thread


@transaction.atomic
def do_reply(
    actor: Actor, access: PatientAccess, thread: Thread, draft: Draft, *, status: str = ""
) -> Message:
    """A reply from whichever side `access` is on.

    From the patient's side the thread goes back to the pool (new, or in progress if
    assigned) with a fresh response-time target if none was running. From staff, the
    target is met, the thread takes `status` (waiting on patient by default) and is
    assigned to whoever answered if nobody had it.
    """
    if not access.allows(Scope.MESSAGE) or access.patient.pk != thread.patient_id:
        raise MessageRefused(_("You cannot send messages for this patient."))
    earlier = already_sent(access.user, draft)
    if earlier is not None and earlier.thread_id == thread.pk:
        return earlier
    if earlier is not None:
        raise MessageRefused(RESENT)
    _check_links(access, draft)
    thread = (
        # Only the thread row is locked: PostgreSQL cannot lock the nullable side of the
        # outer join that an unassigned thread's `assigned_to` needs.
        Thread.objects.select_for_update(of=("self",))
        .select_related("pool", "patient", "assigned_to")
        .get(pk=thread.pk)
    )
    if access.is_staff_access and not in_pool(access, thread):
        # Checked under the lock: a thread moved to another pool a moment ago (or a
        # decision racing the move) is no longer this writer's to answer.
        raise MessageRefused(_("This conversation is no longer in one of your pools."))
    if not access.is_staff_access and hidden_from(access, thread):
        raise MessageRefused(_("You cannot send messages for this patient."))
    if not access.is_staff_access and thread.status == Thread.Status.CLOSED:
        raise MessageRefused(_("This conversation is closed. Please start a new message."))
    now = timezone.now()
    message = add_message(thread, access, draft, now)
    thread.last_message_at = now
    if access.is_staff_access:
        thread.due_at = None
        thread.status = status or Thread.Status.WAITING_ON_PATIENT
        if thread.assigned_to_id is None:
            thread.assigned_to = access.user
    else:
        thread.status = Thread.Status.IN_PROGRESS if thread.assigned_to_id else Thread.Status.NEW
        thread.due_at = thread.due_at or routing.due_at(thread.topic, now)
        thread.archived_at = None
        # Imported here: actions_refills builds on this module.
        from portal.messaging.actions_refills import refill_answered

        refill_answered(thread)
    thread.save(update_fields=["last_message_at", "due_at", "status", "assigned_to", "archived_at"])
    record_write(actor, access, "messaging.reply", obj=thread, detail={"message": message.pk})
    if access.is_staff_access:
        tell_patient_side(thread, message)
    else:
        tell_staff_side(thread, message)
        schedule_overdue_check(thread)
    return message


def in_pool(access: PatientAccess, thread: Thread) -> bool:
    """Whether the staff member is still an active member of the thread's pool as it now stands."""
    return thread.pool.members.filter(user=access.user, active=True).exists()


def linked_sensitivities(draft: Draft) -> list[str]:
    """The confidential categories of what a message links to (an appointment has none today)."""
    return [
        category(getattr(linked, "sensitivity", "")) for linked in (draft.result, draft.appointment) if linked
    ]


def _check_links(access: PatientAccess, draft: Draft) -> None:
    """A linked result or appointment must be the patient's own (forms offer no others)."""
    for linked in (draft.result, draft.appointment):
        if linked is not None and linked.patient_id != access.patient.pk:
            raise MessageRefused(_("Choose one of your own results or appointments."))


def already_sent(user: User | Any, draft: Draft) -> Message | None:
    """The message this user already sent from the same form, if the form was sent before."""
    if not draft.client_key:
        return None
    return Message.objects.select_related("thread").filter(author=user, client_key=draft.client_key).first()


def add_message(thread: Thread, access: PatientAccess, draft: Draft, now: dt.datetime) -> Message:
    """Store one message and its attachments (inside the caller's transaction)."""
    message = Message.objects.create(
        thread=thread,
        author=access.user,
        from_staff=access.is_staff_access,
        body=draft.body,
        created_at=now,
        result=draft.result,
        appointment=draft.appointment,
        client_key=draft.client_key,
    )
    for checked in draft.files:
        attachment = Attachment(
            message=message,
            content_type=checked.content_type,
            size=checked.size,
            original_name=checked.original_name,
        )
        attachment.file.save(f"attachment.{checked.extension}", ContentFile(checked.content), save=False)
        attachment.save()
    return message


@transaction.atomic
def do_mark_thread_read(actor: Actor, access: PatientAccess, thread: Thread) -> int:
    """The other side's unread messages in the thread are now read, by this user; returns how many.

    Who read is kept: staff must not take a proxy's reading for the patient's.
    """
    if not access.is_staff_access and hidden_from(access, thread):
        return 0
    unread = Message.objects.filter(
        thread=thread, from_staff=not access.is_staff_access, read_at__isnull=True
    )
    return unread.update(read_at=timezone.now(), read_by=access.user)


@transaction.atomic
def do_archive_thread(actor: Actor, access: PatientAccess, thread: Thread) -> None:
    """The patient side files a conversation away; staff still see it, and a new message brings it back."""
    _archive(actor, access, thread, timezone.now(), "messaging.thread_archive")


@transaction.atomic
def do_unarchive_thread(actor: Actor, access: PatientAccess, thread: Thread) -> None:
    """The patient side puts an archived conversation back in the inbox."""
    _archive(actor, access, thread, None, "messaging.thread_unarchive")


def _archive(
    actor: Actor, access: PatientAccess, thread: Thread, when: dt.datetime | None, action: str
) -> None:
    if (
        access.is_staff_access
        or not access.allows(Scope.MESSAGE)
        or access.patient.pk != thread.patient_id
        or hidden_from(access, thread)
    ):
        raise MessageRefused(_("You cannot change this conversation."))
    Thread.objects.filter(pk=thread.pk).update(archived_at=when)
    thread.archived_at = when
    record_write(actor, access, action, obj=thread)
