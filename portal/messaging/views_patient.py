"""Patient-side messaging: the inbox, writing to the care team, conversations and their files.

Every page needs the message scope for the patient being viewed; a conversation or
file a URL names is loaded through `access.require_thread`, so another patient's is the
same audited 404 as a missing one. Views parse, authorize, call one action and render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.audit.actor import Actor
from portal.lib.paging import Page
from portal.messaging import actions, routing
from portal.messaging.access import patient_threads, require_thread, unread_from_staff
from portal.messaging.downloads import attachment_response
from portal.messaging.forms import TOPIC_HINTS, InboxFilterForm, MessageForm, ReplyForm, TopicForm
from portal.messaging.models import Attachment, Message, Thread, Topic
from portal.organization.models import Campus
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.access import visible_reports
from portal.records.listing import dated_page
from portal.scheduling.access import may_see_appointments

THREADS_SHOWN = 20
MESSAGES_SHOWN = 50


# The inbox -------------------------------------------------------------------------------------


@require_safe
@patient_page(Scope.MESSAGE)
def inbox(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    filter_form = InboxFilterForm(request.GET)
    chosen = filter_form.filters()
    threads = _filtered(patient_threads(access).annotate(unread=unread_from_staff()), chosen)
    page: Page[Thread] = dated_page(threads, request.GET.get("after"), THREADS_SHOWN, "last_message_at")
    record_read(request, access, "messaging.thread_list")
    kept = {key: value for key, value in request.GET.items() if key in chosen and value}
    context = {
        "access": access,
        "filter_form": filter_form,
        "chosen": chosen,
        "filtering": bool(chosen["q"] or chosen["topic"] or chosen["unread"]),
        "threads": page.items,
        "next_url": f"?{urlencode({**kept, 'after': page.next_cursor})}" if page.next_cursor else "",
        "first_url": f"?{urlencode(kept)}" if kept else "?",
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "messaging/patient/inbox.html", context)


def _filtered(threads: QuerySet[Thread], chosen: dict[str, Any]) -> QuerySet[Thread]:
    threads = threads.filter(archived_at__isnull=not chosen["archived"])
    if chosen["topic"]:
        threads = threads.filter(topic=chosen["topic"])
    if chosen["unread"]:
        threads = threads.filter(unread_from_staff())
    if chosen["q"]:
        in_body = Message.objects.filter(thread=OuterRef("pk"), body__icontains=chosen["q"])
        threads = threads.filter(Q(subject__icontains=chosen["q"]) | Q(Exists(in_body)))
    return threads


# Writing a new message -------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.MESSAGE)
def compose(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if request.method == "POST":
        return _send(request, access)
    wanted = request.GET
    initial = {"topic": wanted.get("topic", ""), "care_team": wanted.get("care_team", "")}
    # Pressing "Continue" without choosing a topic sends `step` alone: that is a choice
    # too, so the form says what is missing instead of reloading silently.
    chosen = ("topic" in wanted or wanted.get("step") == "1") and "change" not in wanted
    step = TopicForm(wanted if chosen else None, access=access, initial=initial)
    if chosen and step.is_valid():
        topic, team = step.cleaned_data["topic"], step.cleaned_data["care_team"]
        form = MessageForm(
            access=access,
            wanted=wanted,
            initial={
                "topic": topic,
                "care_team": team.pk if team else "",
                "result": wanted.get("result", ""),
                "appointment": wanted.get("appointment", ""),
            },
        )
        record_read(request, access, "messaging.compose_view")
        return _step_two(request, access, form, topic, form.preview_pool(topic, team))
    # An explicit step-one choice shows what is wrong; a link from a result or a visit
    # that cannot pick the team by itself just asks, without an error.
    show_errors = chosen and wanted.get("step") == "1"
    if chosen and not show_errors:
        step = TopicForm(access=access, initial=initial)
    return _step_one(request, access, step)


def _send(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    form = MessageForm(request.POST, request.FILES, access=access, wanted=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        draft = actions.Draft(
            body=data["body"],
            files=data["attachments"],
            result=data["result"],
            appointment=data["appointment"],
            client_key=data["client_key"],
        )
        try:
            thread = _sent_once(
                request,
                draft,
                lambda: actions.do_start_thread(
                    Actor.from_request(request),
                    access,
                    topic=data["topic"],
                    care_team=data["care_team"],
                    subject=data["subject"],
                    draft=draft,
                ),
            )
        except actions.MessageRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request,
                _("Your message was sent to %(pool)s. %(response_time)s")
                % {"pool": thread.pool.name, "response_time": routing.response_time_text(thread.topic)},
            )
            return redirect("messaging:thread", thread_id=thread.pk)
    if form.step_one_errors():
        step = TopicForm(request.POST, access=access)
        step.is_valid()
        return _step_one(request, access, step, status=400)
    topic = form.cleaned_data.get("topic", "")
    return _step_two(request, access, form, topic, form.pool, status=400)


def _sent_once(request: HttpRequest, draft: actions.Draft, send: Callable[[], Thread | Message]) -> Thread:
    """Send, and give the conversation; a second copy of the same form racing the first
    loses on the database's unique key and gets the first's conversation instead."""
    try:
        sent = send()
    except IntegrityError:
        earlier = actions.already_sent(request.user, draft)
        if earlier is None:
            raise
        return earlier.thread
    return sent.thread if isinstance(sent, Message) else sent


def _step_one(
    request: HttpRequest, access: PatientAccess, step: TopicForm, status: int = 200
) -> HttpResponse:
    topics = [
        (option, hint, routing.response_time_text(option.data["value"]))
        for option, hint in step.topic_options()
    ]
    source = request.POST if request.method == "POST" else request.GET
    carried = {key: str(source.get(key, "")) for key in ("result", "appointment")}
    context = {
        "access": access,
        "step": step,
        "topics": topics,
        "carried": {key: value for key, value in carried.items() if value.isdigit()},
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
    }
    return render(request, "messaging/patient/compose_topic.html", context, status=status)


def _step_two(
    request: HttpRequest,
    access: PatientAccess,
    form: MessageForm,
    topic: str,
    pool: Any,
    status: int = 200,
) -> HttpResponse:
    team_id = form["care_team"].value() or ""
    change = {"topic": topic, "care_team": team_id, "change": "1"}
    for linked in ("result", "appointment"):
        if linked in form.fields and form[linked].value():
            change[linked] = form[linked].value()
    context = {
        "access": access,
        "form": form,
        "topic_label": Topic(topic).label if topic in Topic.values else "",
        "topic_hint": TOPIC_HINTS.get(topic, ""),
        "pool": pool,
        "response_time": routing.response_time_text(topic) if topic else "",
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
        "change_url": f"{reverse('messaging:new')}?{urlencode(change)}",
        "files_dropped": bool(request.FILES),
    }
    return render(request, "messaging/patient/compose.html", context, status=status)


# A conversation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    """One message as the patient side sees it: who wrote it and what it links to."""

    message: Message
    author: str
    by_viewer: bool
    is_new: bool
    shows_result: bool
    shows_appointment: bool
    # For a staff message already opened: who opened it, as this reader should read it
    # ("" when it was the reader, or when nobody is recorded).
    read_by: str = ""


@require_safe
@patient_page(Scope.MESSAGE)
def thread(request: HttpRequest, access: PatientAccess, thread_id: int) -> HttpResponse:
    conversation, access = require_thread(request, thread_id)
    return _thread_page(request, access, conversation, ReplyForm())


@require_POST
@patient_page(Scope.MESSAGE)
def reply(request: HttpRequest, access: PatientAccess, thread_id: int) -> HttpResponse:
    conversation, access = require_thread(request, thread_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        draft = actions.Draft(body=data["body"], files=data["attachments"], client_key=data["client_key"])
        try:
            _sent_once(
                request,
                draft,
                lambda: actions.do_reply(Actor.from_request(request), access, conversation, draft),
            )
        except actions.MessageRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Your reply was sent."))
            return redirect(reverse("messaging:thread", args=[conversation.pk]) + "#latest")
    return _thread_page(request, access, conversation, form, status=400)


def _thread_page(
    request: HttpRequest, access: PatientAccess, conversation: Thread, form: ReplyForm, status: int = 200
) -> HttpResponse:
    page = dated_page(_messages(conversation), request.GET.get("before"), MESSAGES_SHOWN, "created_at")
    shown = list(reversed(page.items))
    rows = _rows(request, access, conversation, shown)
    actions.do_mark_thread_read(Actor.from_request(request), access, conversation)
    record_read(request, access, "messaging.thread_read", obj=conversation)
    new_message = {"topic": conversation.topic, "care_team": conversation.care_team_id or ""}
    context = {
        "access": access,
        "thread": conversation,
        "rows": rows,
        "campus": _campus(access, conversation),
        "earlier_url": f"?{urlencode({'before': page.next_cursor})}" if page.next_cursor else "",
        "paged": bool(request.GET.get("before")),
        "form": form,
        "closed": conversation.status == Thread.Status.CLOSED,
        "new_message_url": f"{reverse('messaging:new')}?{urlencode(new_message)}",
        "files_dropped": bool(request.FILES),
        "emergency_number": settings.PORTAL_EMERGENCY_NUMBER,
    }
    return render(request, "messaging/patient/thread.html", context, status=status)


def _messages(conversation: Thread) -> QuerySet[Message]:
    return (
        Message.objects.filter(thread=conversation)
        .select_related(
            "author",
            "author__practitioner",
            "read_by",
            "result",
            "appointment__visit_type",
            "appointment__campus",
        )
        .prefetch_related("attachments")
    )


def _campus(access: PatientAccess, conversation: Thread) -> Campus | None:
    return conversation.campus or access.patient.primary_campus


def _rows(
    request: HttpRequest, access: PatientAccess, conversation: Thread, shown: list[Message]
) -> list[MessageRow]:
    """Label each message; a linked result shows only if this access may see it (one query)."""
    linked = {message.result_id for message in shown if message.result_id}
    may_see = set()
    if linked and access.allows(Scope.VIEW):
        may_see = set(visible_reports(access).filter(pk__in=linked).values_list("pk", flat=True))
    appointments = may_see_appointments(access)
    return [
        MessageRow(
            message=message,
            author=_author(request, access, conversation, message),
            by_viewer=message.author_id == request.user.pk and not message.from_staff,
            is_new=message.from_staff and message.read_at is None,
            shows_result=message.result_id in may_see,
            shows_appointment=appointments and message.appointment_id is not None,
            read_by=_reader(request, access, message),
        )
        for message in shown
    ]


def _reader(request: HttpRequest, access: PatientAccess, message: Message) -> str:
    """Who opened a staff message, unless it was the reader themself."""
    if not message.from_staff or message.read_by_id is None or message.read_by_id == request.user.pk:
        return ""
    if message.read_by_id == access.patient.account_id:
        return access.patient.full_name
    reader = message.read_by
    return reader.get_full_name() or reader.username if reader is not None else ""


def _author(request: HttpRequest, access: PatientAccess, conversation: Thread, message: Message) -> str:
    if message.from_staff:
        practitioner = getattr(message.author, "practitioner", None)
        name = practitioner.display_name if practitioner is not None else message.author.display_name
        return _("%(name)s, %(pool)s") % {"name": name, "pool": conversation.pool.name}
    if message.author_id == request.user.pk:
        return _("You")
    if message.author_id == access.patient.account_id:
        return access.patient.full_name
    return _("%(name)s (for %(patient)s)") % {
        "name": message.author.display_name,
        "patient": access.patient.greeting_name,
    }


# Archiving -------------------------------------------------------------------------------------


@require_POST
@patient_page(Scope.MESSAGE)
def archive(request: HttpRequest, access: PatientAccess, thread_id: int) -> HttpResponse:
    conversation, access = require_thread(request, thread_id)
    actor = Actor.from_request(request)
    if request.POST.get("archive") == "0":
        actions.do_unarchive_thread(actor, access, conversation)
        messages.success(request, _("The conversation is back in your messages."))
        return redirect("messaging:thread", thread_id=conversation.pk)
    actions.do_archive_thread(actor, access, conversation)
    messages.success(
        request, _("The conversation was archived. You can find it under “Archived conversations”.")
    )
    return redirect("messaging:list")


# Files -----------------------------------------------------------------------------------------


@require_safe
@patient_page(Scope.MESSAGE)
def attachment(request: HttpRequest, access: PatientAccess, attachment_id: int) -> HttpResponse:
    found = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
    if found is None:
        refuse(request, None, what="messaging.attachment", lookup=str(attachment_id))
        raise Http404  # refuse() has raised already; this line is for the type checker
    conversation, access = require_thread(request, found.message.thread_id)
    if found.message.thread_id != conversation.pk:
        refuse(request, conversation.patient, what="messaging.attachment", lookup=str(attachment_id))
    record_read(request, access, "messaging.attachment_download", obj=conversation, attachment=found.pk)
    # A streamed file, where the page decorators expect an ordinary response type.
    return cast(HttpResponse, attachment_response(found))
