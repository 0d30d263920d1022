"""The care team's side of referrals: the list of the pools they work, and the decisions.

A referral is reached through its conversation (`access.require_thread`, staff side):
only active members of the pool the referral was sent to see it or act on it; anyone
else gets the same audited 404 as a missing referral. Among them, only prescribers
approve or deny, and only clinicians carry an approved referral forward (`roles.py`,
enforced by the actions). Decisions are POSTed from the
referral panel on the inbox's conversation page or from the referral page here, and
go back to where they came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.lib.paging import keyset_page
from portal.messaging import actions_referrals as actions
from portal.messaging.access import require_thread, staff_pools
from portal.messaging.forms_referrals import ApproveForm, DenyForm, StaffReferralSearchForm
from portal.messaging.models import Referral, Thread
from portal.patients.access import PatientAccess, record_read, refuse
from portal.staff.decorators import staff_page

PAGE_SIZE = 50


@staff_page
@require_safe
def referral_list(request: HttpRequest) -> HttpResponse:
    """Referrals sent to the pools the user works, newest first, with a search."""
    wanted = {key: value for key, value in request.GET.items() if key != "after"}
    form = StaffReferralSearchForm(wanted or None)
    referrals = Referral.objects.filter(thread__pool__in=staff_pools(signed_in_user(request))).select_related(
        "patient",
        "specialty",
        "preferred_campus",
        "thread__pool",
        "thread__campus",
        "appointment_request__campus",
    )
    if form.is_bound and form.is_valid():
        referrals = form.apply(referrals)
    page = keyset_page(referrals, request.GET.get("after", "")[:20], PAGE_SIZE)
    record(
        Actor.from_request(request),
        "referral.staff_list_view",
        kind=Kind.READ,
        role="staff",
        detail={
            "patients": sorted({referral.patient_id for referral in page.items}),
            "rows": [referral.pk for referral in page.items],
        },
    )
    context = {
        "form": form,
        "page": page,
        "paged": bool(request.GET.get("after")),
        "searched": form.is_bound,
    }
    return render(request, "messaging/referrals/staff_list.html", context)


def _load(request: HttpRequest, referral_id: int) -> tuple[Referral, Thread, PatientAccess]:
    """The referral through its conversation's pool, or the 404 a missing one gets (audited)."""
    thread_id = Referral.objects.filter(pk=referral_id).values_list("thread_id", flat=True).first()
    if thread_id is None:
        refuse(request, None, what="messaging.referral", lookup=str(referral_id))
    thread, access = require_thread(request, thread_id, side="staff")
    referral = Referral.objects.select_related(
        "specialty", "preferred_campus", "requested_by", "decided_by", "appointment_request__campus"
    ).get(pk=referral_id)
    # The panel reads the referral from its thread, as on the inbox page.
    thread.referral = referral
    referral.thread = thread
    return referral, thread, access


def _page(
    request: HttpRequest,
    referral: Referral,
    thread: Thread,
    access: PatientAccess,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"referral": referral, "thread": thread, "access": access, **extra}
    return render(request, "messaging/referrals/staff_detail.html", context, status=status)


@staff_page
@require_safe
def referral_detail(request: HttpRequest, referral_id: int) -> HttpResponse:
    referral, thread, access = _load(request, referral_id)
    record_read(request, access, "referral.staff_view", obj=referral)
    return _page(request, referral, thread, access)


def _back(request: HttpRequest, referral: Referral, thread: Thread) -> HttpResponse:
    if request.POST.get("back") == "inbox":
        try:
            return redirect(reverse("inbox:thread", args=[thread.pk]))
        except NoReverseMatch:
            pass
    return redirect("staff_referrals:detail", referral_id=referral.pk)


Decide = Callable[[Actor, PatientAccess, Referral, dict[str, Any]], object]


def _decide(
    request: HttpRequest,
    referral_id: int,
    *,
    form: Form | None,
    form_name: str,
    decide: Decide,
    done: str,
) -> HttpResponse:
    referral, thread, access = _load(request, referral_id)
    if form is not None and not form.is_valid():
        return _page(request, referral, thread, access, status=400, **{form_name: form})
    data = form.cleaned_data if form is not None else {}
    try:
        decide(Actor.from_request(request), access, referral, data)
    except actions.ReferralRefused as refusal:
        return _page(request, referral, thread, access, status=409, problem=refusal.message)
    messages.success(request, done)
    return _back(request, referral, thread)


@staff_page
@require_POST
def approve(request: HttpRequest, referral_id: int) -> HttpResponse:
    return _decide(
        request,
        referral_id,
        form=ApproveForm(request.POST, prefix="approve"),
        form_name="approve_form",
        decide=lambda actor, access, referral, data: actions.do_approve_referral(
            actor, access, referral, note=data["note"]
        ),
        done=_("The referral is approved and the patient was told."),
    )


@staff_page
@require_POST
def deny(request: HttpRequest, referral_id: int) -> HttpResponse:
    return _decide(
        request,
        referral_id,
        form=DenyForm(request.POST, prefix="deny"),
        form_name="deny_form",
        decide=lambda actor, access, referral, data: actions.do_deny_referral(
            actor, access, referral, data["reason"]
        ),
        done=_("The referral is not approved and the patient was told why."),
    )


@staff_page
@require_POST
def complete(request: HttpRequest, referral_id: int) -> HttpResponse:
    return _decide(
        request,
        referral_id,
        form=None,
        form_name="",
        decide=lambda actor, access, referral, data: actions.do_complete_referral(actor, access, referral),
        done=_("The referral is marked completed."),
    )


@staff_page
@require_POST
def schedule(request: HttpRequest, referral_id: int) -> HttpResponse:
    return _decide(
        request,
        referral_id,
        form=None,
        form_name="",
        decide=lambda actor, access, referral, data: actions.do_request_referral_appointment(
            actor, access, referral
        ),
        done=_("The appointment request was sent to the scheduling desk."),
    )
