"""Every write staff make on a conversation besides replying (which is `actions.do_reply`):
assigning, changing its status, internal notes, moving it to another pool, and writing
to a patient first.

Each action is atomic, locks the thread, audits itself with the access the staff member
has through the thread's pool (`patients.access.pool_access`), and tells whoever must
now act (the new assignee, the new pool, or the patient's side) in the same transaction.
Internal notes are staff-only: nothing here ever reaches the patient's side.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.messaging import roles
from portal.messaging.access import pool_workers
from portal.messaging.actions import Draft, add_message
from portal.messaging.confidential import category
from portal.messaging.models import ReplyTemplate, StaffNote, Thread, Topic
from portal.messaging.notify import tell_patient_side
from portal.notifications.send import notify_staff
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Scope

NOTE_MAX_LENGTH = 4000
MOVE_REASON_MIN_LENGTH = 5
MOVE_REASON_MAX_LENGTH = 1000


class InboxRefused(Exception):
    """The change breaks a rule; `message` says which, for the member of staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def pool_members(pool: CareTeam) -> QuerySet[User]:
    """Active users who work a pool's inbox, by name: who a thread may be assigned to."""
    return (
        User.objects.filter(practitioner__care_teams=pool, practitioner__active=True, is_active=True)
        .select_related("practitioner")
        .distinct()
        .order_by("practitioner__family_name", "practitioner__given_name", "pk")
    )


def assignable_members(thread: Thread) -> list[User]:
    """Pool members the thread may go to: not the patient, nor anyone who acts for them."""
    return list(
        pool_workers(thread)
        .select_related("practitioner")
        .order_by("practitioner__family_name", "practitioner__given_name", "pk")
    )


def reply_templates(pool: CareTeam) -> QuerySet[ReplyTemplate]:
    """The active stock replies for a pool: its own and those for every pool."""
    return ReplyTemplate.objects.filter(Q(pool=pool) | Q(pool__isnull=True), active=True).order_by(
        "name", "pk"
    )


def staff_name(user: User) -> str:
    """A member of staff as colleagues and patients know them: the practitioner's name."""
    practitioner = getattr(user, "practitioner", None)
    return practitioner.display_name if practitioner is not None else user.get_full_name() or user.username


def template_text(template: ReplyTemplate, thread: Thread, author: User) -> str:
    """The template's text for this thread, with `{patient}`, `{pool}` and `{staff}` filled in.

    Plain replacement, not `str.format`: a template is typed by clinic staff in the admin
    and must not be able to reach attributes.
    """
    patient = thread.patient
    filled = {
        "{patient}": patient.preferred_name or patient.given_name,
        "{pool}": thread.pool.name,
        "{staff}": staff_name(author),
    }
    text = template.body
    for placeholder, value in filled.items():
        text = text.replace(placeholder, value)
    return text


def _lock(thread: Thread) -> Thread:
    # Lock only the thread: the related rows are outer joins PostgreSQL will not lock.
    return (
        Thread.objects.select_for_update(of=("self",))
        .select_related("pool", "patient", "assigned_to")
        .get(pk=thread.pk)
    )


def _locked_for(access: PatientAccess, thread: Thread) -> Thread:
    """The thread, locked, once the access is checked against it as it now stands.

    Under the lock, so a thread moved to another pool a moment ago is no longer the
    writer's to change.
    """
    _check_staff(access, thread.patient_id)
    thread = _lock(thread)
    if not thread.pool.members.filter(user=access.user, active=True).exists():
        raise InboxRefused(_("This conversation is no longer in one of your pools."))
    return thread


def _check_staff(access: PatientAccess, patient_id: int) -> None:
    # Staff rights only: a member of staff who is also the patient writes from the patient pages.
    if not access.is_staff_access or not access.allows(Scope.MESSAGE) or access.patient.pk != patient_id:
        raise InboxRefused(_("You cannot work on this conversation."))


def _thread_link(thread: Thread) -> str:
    return reverse("inbox:thread", args=[thread.pk])


@transaction.atomic
def do_assign_thread(actor: Actor, access: PatientAccess, thread: Thread, assignee: User | None) -> Thread:
    """Give the thread to a member of its pool (or to nobody); the new assignee is told.

    A new thread someone takes is in progress; one that loses its assignee goes back
    to new, so the pool's queue shows it again.
    """
    thread = _locked_for(access, thread)
    if thread.status == Thread.Status.CLOSED:
        raise InboxRefused(_("This conversation is closed. Reopen it before assigning it."))
    if assignee is not None and not pool_workers(thread).filter(pk=assignee.pk).exists():
        raise InboxRefused(_("Choose someone who works in this pool."))
    previous = thread.assigned_to_id
    if previous == (assignee.pk if assignee else None):
        return thread
    thread.assigned_to = assignee
    if assignee is not None and thread.status == Thread.Status.NEW:
        thread.status = Thread.Status.IN_PROGRESS
    elif assignee is None and thread.status == Thread.Status.IN_PROGRESS:
        thread.status = Thread.Status.NEW
    thread.save(update_fields=["assigned_to", "status"])
    detail = {"from": previous, "to": assignee.pk if assignee else None}
    record_write(actor, access, "messaging.assign", obj=thread, detail=detail)
    if assignee is not None and assignee.pk != access.user.pk:
        notify_staff(
            [assignee],
            key=f"messaging.assigned:{thread.pk}:{assignee.pk}",
            link=_thread_link(thread),
            title=_("Assigned to you in %(pool)s: %(topic)s")
            % {"pool": thread.pool.name, "topic": thread.get_topic_display()},
        )
    return thread


@transaction.atomic
def do_set_thread_status(actor: Actor, access: PatientAccess, thread: Thread, status: str) -> Thread:
    """Change where the thread stands.

    Waiting on the patient and closed both mean nobody owes the patient an answer, so
    the response-time target stops running (a new message from the patient starts it again).
    """
    if status not in Thread.Status.values:
        raise InboxRefused(_("Choose one of the statuses shown."))
    thread = _locked_for(access, thread)
    previous = thread.status
    if previous == status:
        return thread
    thread.status = status
    if status in (Thread.Status.WAITING_ON_PATIENT, Thread.Status.CLOSED):
        thread.due_at = None
    thread.save(update_fields=["status", "due_at"])
    record_write(actor, access, "messaging.status", obj=thread, detail={"from": previous, "to": status})
    return thread


@transaction.atomic
def do_add_staff_note(actor: Actor, access: PatientAccess, thread: Thread, body: str) -> StaffNote:
    """An internal note on the thread, for staff only: never shown to the patient or a proxy."""
    text = body.strip()
    if not text:
        raise InboxRefused(_("Write the note first."))
    if len(text) > NOTE_MAX_LENGTH:
        raise InboxRefused(_("Keep the note to %(count)d characters or fewer.") % {"count": NOTE_MAX_LENGTH})
    thread = _locked_for(access, thread)
    note = StaffNote.objects.create(thread=thread, author=access.user, body=text)
    record_write(actor, access, "messaging.staff_note", obj=thread, detail={"note": note.pk})
    return note


@transaction.atomic
def do_set_thread_sensitivity(
    actor: Actor, access: PatientAccess, thread: Thread, sensitivity: str
) -> Thread:
    """Mark the thread as part of a confidential category of care, or clear the mark.

    Marked, it leaves the lists, searches and notifications of a parent of a
    12-17-year-old at once, as the record's confidential items do.
    """
    wanted = category(sensitivity)
    if wanted and wanted not in settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES:
        raise InboxRefused(_("Choose one of the categories shown."))
    thread = _locked_for(access, thread)
    previous = thread.sensitivity
    if previous == wanted:
        return thread
    thread.sensitivity = wanted
    thread.save(update_fields=["sensitivity"])
    record_write(actor, access, "messaging.sensitivity", obj=thread, detail={"from": previous, "to": wanted})
    return thread


@transaction.atomic
def do_move_thread(
    actor: Actor, access: PatientAccess, thread: Thread, pool: CareTeam, reason: str
) -> Thread:
    """Hand the thread to another pool, with a note saying why; its new pool is told.

    Nobody in the new pool has it yet, so the assignment is cleared and an open thread
    is new there; the response-time target keeps running, since the patient is still
    waiting. The patient's side sees only which pool answers now.
    """
    text = reason.strip()
    if len(text) < MOVE_REASON_MIN_LENGTH:
        raise InboxRefused(_("Say why the conversation is moving, for the pool that takes it."))
    if len(text) > MOVE_REASON_MAX_LENGTH:
        raise InboxRefused(
            _("Keep the reason to %(count)d characters or fewer.") % {"count": MOVE_REASON_MAX_LENGTH}
        )
    thread = _locked_for(access, thread)
    if thread.status == Thread.Status.CLOSED:
        raise InboxRefused(_("This conversation is closed. Reopen it before moving it."))
    if pool.pk == thread.pool_id:
        raise InboxRefused(_("The conversation is already in that pool. Choose another."))
    if pool.kind != CareTeam.Kind.CLINICAL and roles.holds_request(thread):
        # The prescribers who decide refills and referrals are in care teams.
        raise InboxRefused(_("A refill or referral request can only move to a care team."))
    previous = thread.pool
    thread.pool = pool
    thread.assigned_to = None
    if thread.status == Thread.Status.IN_PROGRESS:
        thread.status = Thread.Status.NEW
    thread.save(update_fields=["pool", "assigned_to", "status"])
    note = StaffNote.objects.create(
        thread=thread,
        author=access.user,
        body=_("Moved from %(from)s to %(to)s: %(reason)s")
        % {"from": previous.name, "to": pool.name, "reason": text},
    )
    record_write(
        actor,
        access,
        "messaging.move",
        obj=thread,
        detail={"from": previous.pk, "to": pool.pk, "note": note.pk},
    )
    notify_staff(
        pool_members(pool),
        key=f"messaging.moved:{thread.pk}:{note.pk}",
        link=_thread_link(thread),
        title=_("Moved to %(pool)s: %(topic)s") % {"pool": pool.name, "topic": thread.get_topic_display()},
    )
    return thread


@transaction.atomic
def do_start_staff_thread(
    actor: Actor,
    access: PatientAccess,
    *,
    pool: CareTeam,
    topic: str,
    subject: str,
    draft: Draft,
    status: str = Thread.Status.WAITING_ON_PATIENT,
    sensitivity: str = "",
) -> Thread:
    """A member of staff writes to a patient first, from one of their pools.

    `access` is the writer's access through that pool; the view checks first that they
    may reach the patient at all. The thread is theirs, and waits on the patient. A
    `sensitivity` keeps it (and its notification) from a parent of an adolescent.
    """
    _check_staff(access, access.patient.pk)
    if topic not in Topic.values:
        raise InboxRefused(_("Choose what the message is about."))
    wanted = category(sensitivity)
    if wanted and wanted not in settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES:
        raise InboxRefused(_("Choose one of the categories shown."))
    if status not in (Thread.Status.WAITING_ON_PATIENT, Thread.Status.IN_PROGRESS, Thread.Status.CLOSED):
        raise InboxRefused(_("Choose one of the statuses shown."))
    if not pool.members.filter(user=access.user, active=True).exists():
        raise InboxRefused(_("Write from a pool you work in."))
    now = timezone.now()
    care_team = pool if pool.kind == CareTeam.Kind.CLINICAL else None
    thread = Thread.objects.create(
        patient=access.patient,
        topic=topic,
        subject=subject,
        pool=pool,
        care_team=care_team,
        campus=pool.campus or access.patient.primary_campus,
        status=status,
        assigned_to=access.user,
        started_by=access.user,
        started_by_staff=True,
        created_at=now,
        last_message_at=now,
        sensitivity=wanted,
    )
    message = add_message(thread, access, draft, now)
    record_write(
        actor, access, "messaging.staff_thread_start", obj=thread, detail={"topic": topic, "pool": pool.pk}
    )
    tell_patient_side(thread, message)
    return thread
