"""Refill requests in the staff workspace: the list for the user's pools, and the decisions.

A request is reached only through its thread (`access.require_thread(..., side="staff")`),
so only active members of the pool the thread is addressed to may see or decide it;
anyone else gets the audited 404 of a missing request. Among them, only prescribers
approve or decline and only clinicians ask (`roles.py`, enforced by the actions; the
panel offers each member what they may do). Decisions are usually made from
the panel on the inbox thread page; a decision with a problem (a refusal without a
reason) comes back on this module's own page, with the error beside the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.lib.paging import Page
from portal.messaging import actions_refills as actions
from portal.messaging.access import require_thread, staff_pools
from portal.messaging.forms_refills import ApproveForm, AskForm, DenyForm, StaffFilterForm
from portal.messaging.models import RefillItem, RefillRequest, Thread
from portal.patients.access import PatientAccess, record_read, refuse
from portal.staff.decorators import staff_page

PER_PAGE = 30
Decide = Callable[..., RefillRequest]


@require_safe
@staff_page
def refill_list(request: HttpRequest) -> HttpResponse:
    """Refill requests in the user's pools, oldest first: the order they should be answered in."""
    form = StaffFilterForm(request.GET or None)
    statuses = form.statuses() if form.is_bound else list(RefillRequest.OPEN_STATUSES)
    rows = (
        RefillRequest.objects.filter(thread__pool__in=staff_pools(signed_in_user(request)))
        .select_related("patient", "pharmacy", "thread__pool", "thread__campus")
        .prefetch_related(Prefetch("items", queryset=RefillItem.objects.order_by("pk")))
    )
    if statuses is not None:
        rows = rows.filter(status__in=statuses)
    page = _oldest_first(rows, request.GET.get("after"), PER_PAGE)
    record(
        Actor.from_request(request),
        "refills.staff_list",
        kind=Kind.READ,
        role="staff",
        detail={
            "patients": sorted({row.patient_id for row in page.items}),
            "rows": [row.pk for row in page.items],
        },
    )
    filters = f"status={form.cleaned_data['status']}" if form.is_bound and form.is_valid() else ""
    context = {"form": form, "page": page, "paged": bool(request.GET.get("after")), "filters": filters}
    return render(request, "messaging/refills/staff_list.html", context)


def _oldest_first(rows: QuerySet[RefillRequest], cursor: Any, size: int) -> Page[RefillRequest]:
    """A keyset page in ascending id order (ids follow the order requests were made)."""
    try:
        after = int(cursor) if cursor not in (None, "") else None
    except (TypeError, ValueError):
        after = None
    if after is not None:
        rows = rows.filter(pk__gt=after)
    found = list(rows.order_by("pk")[: size + 1])
    items = found[:size]
    return Page(items, str(items[-1].pk) if len(found) > size else None)


def _load(request: HttpRequest, refill_id: int) -> tuple[RefillRequest, Thread, PatientAccess]:
    refill = RefillRequest.objects.select_related("patient", "pharmacy").filter(pk=refill_id).first()
    if refill is None or refill.thread_id is None:
        refuse(
            request, refill.patient if refill else None, what="messaging.refillrequest", lookup=str(refill_id)
        )
    thread, access = require_thread(request, refill.thread_id, side="staff")  # type: ignore[union-attr]
    return refill, thread, access  # type: ignore[return-value]


def _page(
    request: HttpRequest,
    refill: RefillRequest,
    thread: Thread,
    access: PatientAccess,
    *,
    decision: str = "",
    decision_form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "refill": refill,
        "thread": thread,
        "access": access,
        "items": list(refill.items.order_by("pk")),
        "decision": decision,
        "decision_form": decision_form,
    }
    return render(request, "messaging/refills/staff_detail.html", context, status=status)


@require_safe
@staff_page
def refill_detail(request: HttpRequest, refill_id: int) -> HttpResponse:
    refill, thread, access = _load(request, refill_id)
    record_read(request, access, "refills.staff_view", obj=refill)
    return _page(request, refill, thread, access)


def _decide(
    request: HttpRequest, refill_id: int, decision: str, form_class: type[forms.Form], act: Decide, done: str
) -> HttpResponse:
    refill, thread, access = _load(request, refill_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(Actor.from_request(request), access, refill, **form.cleaned_data)
        except actions.RefillRefused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
        else:
            messages.success(request, done)
            return redirect("inbox:thread", thread_id=thread.pk)
    refill.refresh_from_db()
    return _page(request, refill, thread, access, decision=decision, decision_form=form, status=400)


@require_POST
@staff_page
def approve(request: HttpRequest, refill_id: int) -> HttpResponse:
    done = _("The refill was approved and the patient was told.")
    return _decide(request, refill_id, "approve", ApproveForm, actions.do_approve_refill, done)


@require_POST
@staff_page
def deny(request: HttpRequest, refill_id: int) -> HttpResponse:
    done = _("The refill was declined and the patient was told why.")
    return _decide(request, refill_id, "deny", DenyForm, actions.do_deny_refill, done)


@require_POST
@staff_page
def ask(request: HttpRequest, refill_id: int) -> HttpResponse:
    done = _("Your question was sent to the patient.")
    return _decide(request, refill_id, "ask", AskForm, actions.do_ask_about_refill, done)
