"""The staff inbox: each pool's queue, the user's own threads, one thread, and its actions.

Only active members of a pool see its queue and open its threads (`access.staff_pools`,
`access.require_thread(side="staff")`); anyone else gets the same 404 as a missing page.
Every page runs a fixed number of queries whatever the pool's size: queues are keyset
paged on the (pool, status, -last_message_at, -id) index, one short query per status
shown, and counted only up to a cap; a thread shows its latest messages and pages back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.conf.locale import LANG_INFO
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from portal.accounts.models import User, signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.messaging import roles, staff_actions
from portal.messaging.access import require_thread, staff_pools
from portal.messaging.actions import Draft, do_mark_thread_read
from portal.messaging.confidential import category_name
from portal.messaging.downloads import attachment_response
from portal.messaging.forms_inbox import (
    ANYONE,
    ME,
    NOBODY,
    AssignForm,
    MoveForm,
    NoteForm,
    QueueFilterForm,
    QueueFilters,
    ReplyForm,
    SensitivityForm,
    StartThreadForm,
    StatusForm,
)
from portal.messaging.models import Attachment, Message, ReplyTemplate, StaffNote, Thread
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, Role, pool_access, record_read, refuse, require_patient
from portal.patients.models import Scope
from portal.records.access import visible
from portal.records.models import Allergy, Medication, Problem
from portal.scheduling.access import appointments_of, may_see_appointments
from portal.scheduling.models import Appointment
from portal.staff.decorators import staff_page

QUEUE_ROWS = 50
MESSAGES_SHOWN = 50
NOTES_SHOWN = 100
CONTEXT_ROWS = 20
UPCOMING_SHOWN = 5
# Counts stop here: "99+" says enough, and never costs a scan of a large pool.
COUNT_CAP = 99
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PANELS = (
    ("refill_request", "messaging/staff/panels/refill.html"),
    ("referral", "messaging/staff/panels/referral.html"),
)


# Keyset cursors --------------------------------------------------------------------------


def cursor_of(moment: dt.datetime, pk: int) -> str:
    return f"{(moment - EPOCH) // dt.timedelta(microseconds=1)}.{pk}"


def parse_cursor(text: str) -> tuple[dt.datetime, int] | None:
    """A cursor's (time, id), or None for anything malformed (which shows the first page)."""
    try:
        micros, pk = (int(part) for part in text[:60].split("."))
        return EPOCH + dt.timedelta(microseconds=micros), pk
    except (ValueError, OverflowError):
        return None


# Queues ----------------------------------------------------------------------------------


def capped_count(threads: QuerySet[Thread]) -> str:
    # No ordering: the count walks whichever index fits its filter, and stops at the cap.
    found = threads.order_by()[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP}+" if found > COUNT_CAP else str(found)


def pool_counts(pool: CareTeam, now: dt.datetime | None = None) -> dict[str, str]:
    """New and overdue threads in a pool, each counted only up to `COUNT_CAP` (two index ranges)."""
    now = now or timezone.now()
    threads = Thread.objects.filter(pool=pool)
    return {
        "new": capped_count(threads.filter(status=Thread.Status.NEW)),
        "overdue": capped_count(threads.filter(status__in=Thread.OPEN_STATUSES, due_at__lt=now)),
    }


def _search(text: str) -> Q:
    """Each word must match the subject, or start the patient's name; digits match the clinic number."""
    match = Q()
    for word in text.split()[:5]:
        term = (
            Q(subject__icontains=word)
            | Q(patient__given_name__istartswith=word)
            | Q(patient__family_name__istartswith=word)
            | Q(patient__preferred_name__istartswith=word)
        )
        if word.replace("-", "").isdigit():
            term |= Q(patient__clinic_number=word.replace("-", ""))
        match &= term
    return match


def _filtered(
    threads: QuerySet[Thread], filters: QueueFilters, user: User, now: dt.datetime
) -> tuple[QuerySet[Thread], tuple[str, ...]]:
    statuses = filters.statuses
    if filters.assigned == ME:
        threads = threads.filter(assigned_to=user)
    elif filters.assigned == NOBODY:
        threads = threads.filter(assigned_to__isnull=True)
    if filters.topic:
        threads = threads.filter(topic=filters.topic)
    if filters.overdue:
        threads = threads.filter(due_at__lt=now)
        statuses = tuple(status for status in statuses if status in Thread.OPEN_STATUSES)
    if filters.search:
        threads = threads.filter(_search(filters.search))
    return threads, statuses


def queue_page(threads: QuerySet[Thread], statuses: tuple[str, ...], cursor: str) -> tuple[list[Thread], str]:
    """One page of threads, latest message first, and the cursor of the next page ("" if none).

    One query per status, each a short walk down the pool's index from the cursor: the
    page is within the first rows of each, so merging them is exact.
    """
    after = parse_cursor(cursor) if cursor else None
    if after is not None:
        moment, pk = after
        threads = threads.filter(Q(last_message_at__lt=moment) | Q(last_message_at=moment, pk__lt=pk))
    rows: list[Thread] = []
    for status in statuses:
        rows += threads.filter(status=status).order_by("-last_message_at", "-pk")[: QUEUE_ROWS + 1]
    rows.sort(key=lambda thread: (thread.last_message_at, thread.pk), reverse=True)
    shown = rows[:QUEUE_ROWS]
    more = len(rows) > QUEUE_ROWS
    return shown, cursor_of(shown[-1].last_message_at, shown[-1].pk) if more else ""


def _queue_threads() -> QuerySet[Thread]:
    return Thread.objects.select_related("patient", "pool", "campus", "assigned_to__practitioner")


def _my_pools(request: HttpRequest) -> list[CareTeam]:
    """The user's pools; staff in none (and administrators) get the ordinary 404."""
    pools = list(staff_pools(signed_in_user(request)).order_by("name", "pk"))
    if not pools:
        raise Http404
    return pools


def _audit_queue(request: HttpRequest, rows: list[Thread], **detail: Any) -> None:
    """One audit event for a queue page, naming every patient and thread it showed."""
    record(
        Actor.from_request(request),
        "messaging.inbox_view",
        kind=Kind.READ,
        role=Role.STAFF.value,
        detail={
            "patients": sorted({row.patient_id for row in rows}),
            "threads": [row.pk for row in rows],
            **detail,
        },
    )


def _queue_response(
    request: HttpRequest,
    threads: QuerySet[Thread],
    pools: list[CareTeam],
    *,
    pool: CareTeam | None,
) -> HttpResponse:
    user = signed_in_user(request)
    now = timezone.now()
    form = QueueFilterForm(request.GET)
    filters = form.filters()
    if pool is None:  # "My threads": assigned to me by definition
        filters = QueueFilters(filters.statuses, ANYONE, filters.topic, filters.overdue, filters.search)
    threads, statuses = _filtered(threads, filters, user, now)
    cursor = request.GET.get("before", "")[:60]
    rows, next_cursor = queue_page(threads, statuses, cursor)
    _audit_queue(request, rows, pool=pool.pk if pool else None)
    kept = request.GET.copy()
    kept.pop("before", None)
    context = {
        "pools": pools,
        "pool": pool,
        "form": form,
        "threads": rows,
        "next_cursor": next_cursor,
        "paged": bool(parse_cursor(cursor)) if cursor else False,
        "filters": kept.urlencode(),
        "counts": pool_counts(pool, now) if pool is not None else None,
        "now": now,
        "mine": pool is None,
    }
    return render(request, "messaging/staff/inbox.html", context)


@staff_page
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    """A pool's queue: the pool chooser, filters and the threads, latest first."""
    pools = _my_pools(request)
    chosen = request.GET.get("pool", "")
    pool = next((each for each in pools if str(each.pk) == chosen), None) if chosen else pools[0]
    if pool is None:
        # Another pool, or none at all, is the same 404.
        raise Http404
    return _queue_response(request, _queue_threads().filter(pool=pool), pools, pool=pool)


@staff_page
@require_safe
def mine(request: HttpRequest) -> HttpResponse:
    """Threads assigned to the user, across the pools they still work in."""
    pools = _my_pools(request)
    threads = _queue_threads().filter(
        assigned_to=signed_in_user(request), pool__in=[pool.pk for pool in pools]
    )
    return _queue_response(request, threads, pools, pool=None)


# One thread ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the thread's timeline: a message, or an internal note."""

    kind: str
    item: Message | StaffNote

    @property
    def at(self) -> dt.datetime:
        return self.item.created_at


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    earlier: str  # cursor of the page before, "" if the first message is shown
    paged: bool


def timeline(thread: Thread, cursor: str) -> Timeline:
    """The latest `MESSAGES_SHOWN` messages before the cursor, oldest first, with the
    internal notes written in the same stretch of time: three queries however long."""
    before = parse_cursor(cursor) if cursor else None
    found = (
        thread.messages.select_related("author__practitioner", "read_by", "result", "appointment__campus")
        .prefetch_related("attachments")
        .order_by("-created_at", "-pk")
    )
    notes = thread.staff_notes.select_related("author__practitioner").order_by("-created_at", "-pk")
    if before is not None:
        moment, pk = before
        found = found.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
        notes = notes.filter(created_at__lt=moment)
    rows = list(found[: MESSAGES_SHOWN + 1])
    shown = rows[:MESSAGES_SHOWN][::-1]
    earlier = ""
    if len(rows) > MESSAGES_SHOWN and shown:
        earlier = cursor_of(shown[0].created_at, shown[0].pk)
        notes = notes.filter(created_at__gte=shown[0].created_at)
    entries = [Entry("message", message) for message in shown]
    entries += [Entry("note", note) for note in list(notes[:NOTES_SHOWN])]
    entries.sort(key=lambda entry: (entry.at, entry.kind == "note", entry.item.pk))
    return Timeline(entries, earlier, before is not None)


def _panels(thread: Thread) -> dict[str, str]:
    """The refill or referral panel to show beside the thread, where it has one and the
    panel's template exists (they come from the refill and referral pages)."""
    found: dict[str, str] = {}
    for relation, name in PANELS:
        try:
            getattr(thread, relation)
        except ObjectDoesNotExist:
            continue
        try:
            select_template([name])
        except TemplateDoesNotExist:
            continue
        found[f"{relation}_panel"] = name
    return found


def _holds_request(thread: Thread) -> bool:
    """Whether a refill or referral belongs to the thread (read through the relations `_panels` loaded)."""
    for relation, _name in PANELS:
        try:
            getattr(thread, relation)
        except ObjectDoesNotExist:
            continue
        return True
    return False


def _language_name(code: str) -> str:
    info = LANG_INFO.get(code) or LANG_INFO.get(code.split("-")[0]) or {}
    return str(info.get("name_local") or info.get("name") or code)


def patient_context(access: PatientAccess, thread: Thread) -> dict[str, Any]:
    """What staff see about the patient beside the thread, as far as their access allows."""
    patient = access.patient
    campus = thread.campus or patient.primary_campus
    today = timezone.localtime(timezone.now(), campus.zone if campus else None).date()
    context: dict[str, Any] = {
        "patient": patient,
        "age": patient.age_on(today),
        "language": _language_name(patient.preferred_language),
        "sees_appointments": may_see_appointments(access),
        "sees_record": access.allows(Scope.VIEW),
        # Pool membership alone reaches the conversation, not the patient's page.
        "reaches_patient": bool(access.scopes - {Scope.MESSAGE}),
    }
    if context["sees_appointments"]:
        context["upcoming"] = list(
            appointments_of(access)
            .filter(status=Appointment.Status.BOOKED, starts_at__gte=timezone.now())
            .order_by("starts_at", "pk")[:UPCOMING_SHOWN]
        )
    if context["sees_record"]:
        context["medications"] = list(
            visible(Medication, access).filter(
                status__in=[Medication.Status.ACTIVE, Medication.Status.ON_HOLD]
            )[:CONTEXT_ROWS]
        )
        context["allergies"] = list(
            visible(Allergy, access).filter(status=Allergy.Status.ACTIVE)[:CONTEXT_ROWS]
        )
        context["problems"] = list(
            visible(Problem, access).filter(status__in=[Problem.Status.ACTIVE, Problem.Status.RECURRENCE])[
                :CONTEXT_ROWS
            ]
        )
    return context


def _templates(thread: Thread) -> list[ReplyTemplate]:
    return list(staff_actions.reply_templates(thread.pool))


def back_to_thread(request: HttpRequest, thread: Thread, text: str) -> HttpResponse:
    """After an action: the thread again, with what was done."""
    messages.success(request, text)
    return redirect("inbox:thread", thread_id=thread.pk)


def thread_page(
    request: HttpRequest,
    thread: Thread,
    access: PatientAccess,
    *,
    forms: dict[str, Any] | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    user = signed_in_user(request)
    templates = _templates(thread)
    chosen = request.GET.get("template", "")
    template = next((each for each in templates if str(each.pk) == chosen), None)
    initial = {"body": staff_actions.template_text(template, thread, user)} if template else {}
    members = staff_actions.assignable_members(thread)
    panels = _panels(thread)
    other_pools = roles.move_targets(thread, holds=_holds_request(thread))
    given = forms or {}
    history = timeline(thread, request.GET.get("before", "")[:60])
    record_read(request, access, "messaging.staff_thread_read", obj=thread)
    context = {
        "thread": thread,
        "access": access,
        "timeline": history,
        "now": timezone.now(),
        # Each template with its text for this thread, for the picker's script to fill in.
        "templates": [(each, staff_actions.template_text(each, thread, user)) for each in templates],
        "template": template,
        "reply_form": given.get("reply") or ReplyForm(initial=initial),
        "note_form": given.get("note") or NoteForm(),
        "assign_form": given.get("assign")
        or AssignForm(members=members, initial={"assignee": thread.assigned_to_id or ""}),
        "status_form": given.get("status") or StatusForm(initial={"status": thread.status}),
        "move_form": given.get("move") or MoveForm(pools=other_pools),
        "sensitivity_form": given.get("sensitivity")
        or SensitivityForm(initial={"sensitivity": thread.sensitivity}),
        "confidential_name": category_name(thread.sensitivity) if thread.sensitivity else "",
        "me_in_pool": any(member.pk == user.pk for member in members),
        "inbox_problem": problem,
        **patient_context(access, thread),
        **panels,
    }
    return render(request, "messaging/staff/thread.html", context, status=status)


@staff_page
@require_safe
def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    """One conversation: messages and internal notes, the patient beside it, and the actions."""
    found, access = require_thread(request, thread_id, side="staff")
    do_mark_thread_read(Actor.from_request(request), access, found)
    return thread_page(request, found, access)


@staff_page
@require_safe
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A file sent in a thread of one of the user's pools, as a download (audited)."""
    found = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
    if found is None:
        refuse(request, None, what="messaging.attachment", lookup=str(attachment_id)[:50])
        raise Http404  # `refuse` has raised it already
    thread_found, access = require_thread(request, found.message.thread_id, side="staff")
    record_read(request, access, "messaging.staff_attachment_read", obj=found, thread=thread_found.pk)
    # A streamed file, which the staff decorators pass through like any response.
    return cast(HttpResponse, attachment_response(found))


# Writing first ---------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def start(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Write to a patient first, from one of the user's pools.

    The user must reach the patient through the access policy with staff rights (care
    team or office), not just be in some pool: pool membership opens conversations
    addressed to the pool, not every patient's record.
    """
    reached = require_patient(request, patient_id, scope=None)
    if reached.role is not Role.STAFF:
        refuse(request, reached.patient, what="patients.patient", lookup=str(patient_id)[:50])
    pools = _my_pools(request)
    posted = request.method == "POST"
    form = StartThreadForm(request.POST if posted else None, request.FILES if posted else None, pools=pools)
    problem = ""
    if posted and form.is_valid():
        pool = form.cleaned_data["pool"]
        access = pool_access(request.user, reached.patient, pool)
        if access is None:
            raise Http404
        draft = Draft(body=form.cleaned_data["body"], files=form.cleaned_data["attachments"])
        try:
            started = staff_actions.do_start_staff_thread(
                Actor.from_request(request),
                access,
                pool=pool,
                topic=form.cleaned_data["topic"],
                subject=form.cleaned_data["subject"],
                draft=draft,
                status=form.cleaned_data["status"],
                sensitivity=form.cleaned_data["sensitivity"],
            )
        except staff_actions.InboxRefused as refusal:
            problem = refusal.message
        else:
            return back_to_thread(
                request, started, _("Message sent. The patient has been told there is a new message.")
            )
    record_read(request, reached, "patient.view")
    context = {"patient": reached.patient, "form": form, "problem": problem}
    return render(request, "messaging/staff/start.html", context, status=400 if posted else 200)
