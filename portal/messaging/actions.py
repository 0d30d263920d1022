"""Every write to conversations: starting one, replying, reading.

Each action is atomic and audited, and tells the other side in the same transaction.
Attachments arrive already checked (`lib/uploads.py`); they are stored under random
names with the message they belong to, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.lib.uploads import CheckedFile
from portal.messaging import routing
from portal.messaging.models import Attachment, Message, Thread
from portal.messaging.notify import tell_patient_side, tell_staff_side
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope
from portal.records.models import ResultReport
from portal.scheduling.models import Appointment


class MessageRefused(Exception):
    """The message cannot be sent; the text says why, for the sender."""


@dataclass(frozen=True)
class Draft:
    """What the sender wrote, checked by the form: text, files and what it is about."""

    body: str
    files: Sequence[CheckedFile] = ()
    result: ResultReport | None = None
    appointment: Appointment | None = None


@transaction.atomic
def do_start_thread(
    actor: Actor, access: PatientAccess, *, topic: str, care_team: CareTeam | None, subject: str, draft: Draft
) -> Thread:
    """A patient (or proxy who may message) writes to a pool, chosen by `routing.pool_for`."""
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise MessageRefused(_("You cannot send messages for this patient."))
    if (
        care_team is not None
        and not routing.patient_care_teams(access.patient).filter(pk=care_team.pk).exists()
    ):
        raise MessageRefused(_("Choose one of your care teams."))
    try:
        pool = routing.pool_for(topic, access.patient, care_team)
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
    )
    message = add_message(thread, access, draft, now)
    record_write(
        actor, access, "messaging.thread_start", obj=thread, detail={"topic": topic, "pool": pool.pk}
    )
    tell_staff_side(thread, message)
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
    thread = (
        Thread.objects.select_for_update().select_related("pool", "patient", "assigned_to").get(pk=thread.pk)
    )
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
    thread.save(update_fields=["last_message_at", "due_at", "status", "assigned_to", "archived_at"])
    record_write(actor, access, "messaging.reply", obj=thread, detail={"message": message.pk})
    if access.is_staff_access:
        tell_patient_side(thread, message)
    else:
        tell_staff_side(thread, message)
    return message


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
    """The other side's unread messages in the thread are now read; returns how many."""
    unread = Message.objects.filter(
        thread=thread, from_staff=not access.is_staff_access, read_at__isnull=True
    )
    return unread.update(read_at=timezone.now())
