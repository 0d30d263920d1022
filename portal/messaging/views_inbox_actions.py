"""The staff inbox's actions on one conversation: reply, internal note, assignment,
status, moving it to another pool, and marking it confidential.

Each is a POST from the thread page that calls one staff action; a form error or a
refusal shows the thread page again with the problem, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.audit.actor import Actor
from portal.messaging import roles, staff_actions
from portal.messaging.access import require_thread
from portal.messaging.actions import Draft, MessageRefused, do_reply
from portal.messaging.confidential import category_name
from portal.messaging.forms_inbox import (
    AssignForm,
    MoveForm,
    NoteForm,
    ReplyForm,
    SensitivityForm,
    StatusForm,
)
from portal.messaging.models import Thread
from portal.messaging.staff_actions import staff_name
from portal.messaging.views_inbox import back_to_thread, thread_page
from portal.patients.access import PatientAccess
from portal.staff.decorators import staff_page


def _act(
    request: HttpRequest,
    found: Thread,
    access: PatientAccess,
    name: str,
    form: forms.Form,
    act: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """One action on the thread from its form: the thread again with what was done, or
    the page with the form's errors or the action's refusal (and nothing changed)."""
    if not form.is_valid():
        return thread_page(request, found, access, forms={name: form}, status=400)
    try:
        done = act(form.cleaned_data)
    except staff_actions.InboxRefused as refusal:
        return thread_page(request, found, access, forms={name: form}, problem=refusal.message, status=400)
    return back_to_thread(request, found, done)


@staff_page
@require_POST
def reply(request: HttpRequest, thread_id: int) -> HttpResponse:
    found, access = require_thread(request, thread_id, side="staff")
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return thread_page(request, found, access, forms={"reply": form}, status=400)
    draft = Draft(body=form.cleaned_data["body"], files=form.cleaned_data["attachments"])
    try:
        do_reply(Actor.from_request(request), access, found, draft, status=form.cleaned_data["status"])
    except MessageRefused as refusal:
        return thread_page(request, found, access, forms={"reply": form}, problem=str(refusal), status=400)
    return back_to_thread(request, found, _("Reply sent. The patient has been told there is a new message."))


@staff_page
@require_POST
def note(request: HttpRequest, thread_id: int) -> HttpResponse:
    found, access = require_thread(request, thread_id, side="staff")

    def add(data: dict[str, Any]) -> str:
        staff_actions.do_add_staff_note(Actor.from_request(request), access, found, data["body"])
        return _("Internal note added. Only staff can see it.")

    return _act(request, found, access, "note", NoteForm(request.POST), add)


@staff_page
@require_POST
def assign(request: HttpRequest, thread_id: int) -> HttpResponse:
    found, access = require_thread(request, thread_id, side="staff")

    def give(data: dict[str, Any]) -> str:
        assignee = data["assignee"]
        staff_actions.do_assign_thread(Actor.from_request(request), access, found, assignee)
        if assignee is None:
            return _("Nobody has this conversation now.")
        return _("Assigned to %(name)s.") % {"name": staff_name(assignee)}

    form = AssignForm(request.POST, members=staff_actions.assignable_members(found))
    return _act(request, found, access, "assign", form, give)


@staff_page
@require_POST
def set_status(request: HttpRequest, thread_id: int) -> HttpResponse:
    found, access = require_thread(request, thread_id, side="staff")

    def change(data: dict[str, Any]) -> str:
        changed = staff_actions.do_set_thread_status(
            Actor.from_request(request), access, found, data["status"]
        )
        return _("Status: %(status)s.") % {"status": changed.get_status_display()}

    return _act(request, found, access, "status", StatusForm(request.POST), change)


@staff_page
@require_POST
def move(request: HttpRequest, thread_id: int) -> HttpResponse:
    found, access = require_thread(request, thread_id, side="staff")
    form = MoveForm(request.POST, pools=roles.move_targets(found))
    if not form.is_valid():
        return thread_page(request, found, access, forms={"move": form}, status=400)
    pool = form.cleaned_data["pool"]
    try:
        staff_actions.do_move_thread(
            Actor.from_request(request), access, found, pool, form.cleaned_data["reason"]
        )
    except staff_actions.InboxRefused as refusal:
        return thread_page(request, found, access, forms={"move": form}, problem=refusal.message, status=400)
    messages.success(request, _("Moved to %(pool)s. Its members have been told.") % {"pool": pool.name})
    if pool.members.filter(user=request.user, active=True).exists():
        return redirect("inbox:thread", thread_id=found.pk)
    return redirect("inbox:queue")


@staff_page
@require_POST
def set_sensitivity(request: HttpRequest, thread_id: int) -> HttpResponse:
    """Mark the conversation as part of a confidential category of care, or clear the mark."""
    found, access = require_thread(request, thread_id, side="staff")

    def mark(data: dict[str, Any]) -> str:
        changed = staff_actions.do_set_thread_sensitivity(
            Actor.from_request(request), access, found, data["sensitivity"]
        )
        if changed.sensitivity:
            text = _(
                "Marked confidential: %(category)s. A parent of a patient aged 12 to 17 no longer sees it."
            )
            return text % {"category": category_name(changed.sensitivity)}
        return _("The conversation is no longer marked confidential.")

    return _act(request, found, access, "sensitivity", SensitivityForm(request.POST), mark)


# Attachments -----------------------------------------------------------------------------
