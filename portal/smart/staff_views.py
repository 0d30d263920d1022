"""App review for the clinic's administrators: approve or turn down registrations, suspend an app.

Only administrators (superusers, or staff with the Administrator role) see these
pages; other staff get the ordinary 404. Decisions are audited without a patient.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.audit.actor import Actor
from portal.smart.actions import AppRefused, do_approve_app, do_reject_app, do_suspend_app, may_review_apps
from portal.smart.forms import ReviewNoteForm
from portal.smart.models import AppRegistration
from portal.staff.decorators import staff_page

MAX_LISTED = 200


def admin_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @staff_page
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_review_apps(request.user):  # type: ignore[arg-type]
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _page(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    registrations = AppRegistration.objects.select_related("developer", "reviewed_by", "application")
    live = Q(application__authorizations__revoked_at__isnull=True)
    context = {
        "pending": list(
            registrations.filter(status=AppRegistration.Status.PENDING).order_by("created_at")[:MAX_LISTED]
        ),
        "approved": list(
            registrations.filter(status=AppRegistration.Status.APPROVED)
            .annotate(patients=Count("application__authorizations__patient", filter=live, distinct=True))
            .order_by("name", "id")[:MAX_LISTED]
        ),
        "note_form": ReviewNoteForm(),
    } | extra
    return render(request, "smart/staff/apps.html", context, status=status)


@admin_page
def apps(request: HttpRequest) -> HttpResponse:
    """Registrations waiting for a decision, and the approved apps with how many patients use each."""
    return _page(request)


def _decide(
    request: HttpRequest, registration_id: int, decide: Callable[[AppRegistration, str], str]
) -> HttpResponse:
    registration = get_object_or_404(AppRegistration, pk=registration_id)
    try:
        done = decide(registration, request.POST.get("note", ""))
    except AppRefused as refusal:
        return _page(request, status=409, refusal=str(refusal))
    messages.success(request, done)
    return redirect("staff_apps:list")


@admin_page
@require_POST
def approve(request: HttpRequest, registration_id: int) -> HttpResponse:
    def decide(registration: AppRegistration, _note: str) -> str:
        do_approve_app(Actor.from_request(request), registration)
        return _("%(app)s is approved. Patients can now connect it.") % {"app": registration.name}

    return _decide(request, registration_id, decide)


@admin_page
@require_POST
def reject(request: HttpRequest, registration_id: int) -> HttpResponse:
    form = ReviewNoteForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, refusal=_("Say why you are turning the app down."))

    def decide(registration: AppRegistration, _note: str) -> str:
        do_reject_app(Actor.from_request(request), registration, form.cleaned_data["note"])
        return _("%(app)s was turned down.") % {"app": registration.name}

    return _decide(request, registration_id, decide)


@admin_page
@require_POST
def suspend(request: HttpRequest, registration_id: int) -> HttpResponse:
    form = ReviewNoteForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, refusal=_("Say why you are suspending the app."))

    def decide(registration: AppRegistration, _note: str) -> str:
        ended = do_suspend_app(Actor.from_request(request), registration, form.cleaned_data["note"])
        return _("%(app)s is suspended; %(count)d connections ended.") % {
            "app": registration.name,
            "count": ended,
        }

    return _decide(request, registration_id, decide)
