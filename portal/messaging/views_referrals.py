"""Referrals on the patient side: ask for one, follow what became of it, search them.

Asking needs the message scope (a referral is a conversation with the care team);
seeing referrals needs the view or the message scope. A referral a URL names is loaded
through the access policy: another patient's is the same audited 404 as a missing one,
and staff rights never come with a member of staff onto these pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.messaging import actions_referrals as actions
from portal.messaging import routing
from portal.messaging.confidential import hidden_from
from portal.messaging.forms_referrals import ReferralForm, ReferralSearchForm
from portal.messaging.models import Message, Referral
from portal.patients.access import PatientAccess, filter_confidential, record_read, refuse, require_object
from portal.patients.models import Scope
from portal.patients.selection import patient_page

PAGE_SIZE = 25
HISTORY_SHOWN = 20

Status = Referral.Status
# What each status means for the patient, beside its one-word name.
STATUS_MEANING: dict[str, Any] = {
    Status.REQUESTED: gettext_lazy("Waiting for your care team to decide."),
    Status.APPROVED: gettext_lazy("Approved by your care team."),
    Status.SCHEDULED: gettext_lazy("An appointment is booked."),
    Status.COMPLETED: gettext_lazy("You have been seen; nothing more to do."),
    Status.DENIED: gettext_lazy("Not approved. The note says why."),
}


@dataclass(frozen=True)
class ReferralRow:
    """A referral with its status in the patient's words."""

    referral: Referral
    meaning: str


def _rows(referrals: list[Referral]) -> list[ReferralRow]:
    return [ReferralRow(referral, str(STATUS_MEANING.get(referral.status, ""))) for referral in referrals]


def may_see_referrals(access: PatientAccess) -> bool:
    return access.allows(Scope.VIEW) or access.allows(Scope.MESSAGE)


def _not_shared(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "patients/scope_missing.html", {"access": access}, status=403)


def _referrals(access: PatientAccess) -> Any:
    """The patient's referrals this access may see: not those whose conversation is confidential to it."""
    referrals = filter_confidential(
        Referral.objects.filter(patient=access.patient), access, "thread__sensitivity"
    )
    return referrals.select_related(
        "specialty",
        "preferred_campus",
        "thread__campus",
        "appointment_request__campus",
        "appointment_request__appointment__campus",
    )


def _scopes(access: PatientAccess) -> dict[str, bool]:
    """Which linked pages this access reaches: appointments (view or schedule), requests (schedule)."""
    return {
        "may_see_appointments": access.allows(Scope.VIEW) or access.allows(Scope.SCHEDULE),
        "may_schedule": access.allows(Scope.SCHEDULE),
    }


@require_safe
@patient_page(None)
def referral_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not may_see_referrals(access):
        return _not_shared(request, access)
    wanted = {key: value for key, value in request.GET.items() if key != "after"}
    form = ReferralSearchForm(wanted or None)
    referrals = _referrals(access)
    if form.is_bound and form.is_valid():
        referrals = form.apply(referrals)
    page = keyset_page(referrals, request.GET.get("after", "")[:20], PAGE_SIZE)
    record_read(request, access, "referral.list_view", count=len(page.items))
    context = {
        "access": access,
        "form": form,
        "rows": _rows(page.items),
        "page": page,
        "paged": bool(request.GET.get("after")),
        "searched": form.is_bound,
        "may_ask": access.allows(Scope.MESSAGE),
        **_scopes(access),
    }
    return render(request, "messaging/referrals/list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.MESSAGE)
def new_referral(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    care_teams = list(routing.patient_care_teams(access.patient))
    form = ReferralForm(request.POST if request.method == "POST" else None, care_teams=care_teams)
    if request.method == "POST" and care_teams and form.is_valid():
        try:
            referral = actions.do_request_referral(Actor.from_request(request), access, **form.cleaned_data)
        except actions.ReferralRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                _("Your referral request was sent. You will get a notification when your care team answers."),
            )
            return redirect("referrals:detail", referral_id=referral.pk)
    status = 400 if form.is_bound else 200
    context = {"access": access, "form": form, "care_teams": care_teams}
    return render(request, "messaging/referrals/new.html", context, status=status)


def _load(request: HttpRequest, referral_id: int) -> tuple[Referral, PatientAccess]:
    referral, access = require_object(request, _referrals_any(), scope=None, pk=referral_id)
    hidden = referral.thread is not None and hidden_from(access, referral.thread)
    if access.is_staff_access or not may_see_referrals(access) or hidden:
        refuse(request, referral.patient, what="messaging.referral", lookup=str(referral_id))
    return referral, access


def _referrals_any() -> Any:
    return Referral.objects.select_related(
        "specialty",
        "preferred_campus",
        "requested_by",
        "thread__pool",
        "thread__campus",
        "appointment_request__campus",
        "appointment_request__appointment__campus",
    )


@require_safe
@patient_page(None)
def referral_detail(request: HttpRequest, access: PatientAccess, referral_id: int) -> HttpResponse:
    referral, access = _load(request, referral_id)
    history: list[Message] = []
    # The conversation is the message scope's: a proxy who may only view sees the status alone.
    if access.allows(Scope.MESSAGE) and referral.thread_id is not None:
        newest = Message.objects.filter(thread_id=referral.thread_id).select_related("author")
        history = list(newest.order_by("-created_at", "-id")[:HISTORY_SHOWN])[::-1]
    record_read(request, access, "referral.view", obj=referral)
    context = {
        "access": access,
        "referral": referral,
        "meaning": STATUS_MEANING.get(referral.status, ""),
        "history": history,
        "may_message": access.allows(Scope.MESSAGE),
        **_scopes(access),
        "history_capped": len(history) == HISTORY_SHOWN,
    }
    return render(request, "messaging/referrals/detail.html", context)
