"""Backend services and patient groups for the clinic's administrators (/staff/bulk/).

The same people who approve apps (`smart.staff_views.admin_page`) register services,
rotate their keys, suspend and reinstate them, and define the patient groups services
may export. Everyone else gets the ordinary 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.audit.actor import Actor
from portal.bulk import actions
from portal.bulk.forms import GroupForm, KeysForm, RegisterServiceForm, ServiceForm, scope_types
from portal.bulk.groups import members
from portal.bulk.models import BackendService, PatientGroup
from portal.smart.staff_views import admin_page

MAX_LISTED = 200


@admin_page
def home(request: HttpRequest) -> HttpResponse:
    """Every backend service with what it may export, and every patient group."""
    services = BackendService.objects.prefetch_related("groups").order_by("name", "id")[:MAX_LISTED]
    groups = PatientGroup.objects.select_related("campus", "care_team").order_by("name", "id")[:MAX_LISTED]
    return render(request, "bulk/staff/home.html", {"services": list(services), "groups": list(groups)})


@admin_page
def register_service(request: HttpRequest) -> HttpResponse:
    form = RegisterServiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service = actions.do_register_service(
                Actor.from_request(request), jwks=form.cleaned_data["jwks"], **form.action_fields()
            )
        except actions.BulkRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request,
                _("%(service)s is registered. Give the service its client ID.") % {"service": service.name},
            )
            return redirect("staff_bulk:service", service_id=service.pk)
    status = 400 if form.is_bound else 200
    return render(request, "bulk/staff/register.html", {"form": form}, status=status)


def _service_page(
    request: HttpRequest,
    service: BackendService,
    *,
    form: ServiceForm | None = None,
    keys_form: KeysForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    initial = {
        "name": service.name,
        "description": service.description,
        "resource_types": scope_types(service.scopes),
        "all_patients": "yes" if service.all_patients else "no",
        "groups": list(service.groups.all()),
    }
    keys = service.jwks.get("keys", []) if isinstance(service.jwks, dict) else []
    context: dict[str, Any] = {
        "service": service,
        "keys": [key for key in keys if isinstance(key, dict)],
        "token_url": request.build_absolute_uri(reverse("smart:token")),
        "form": form or ServiceForm(initial=initial),
        "keys_form": keys_form or KeysForm(),
        "refusal": refusal,
    }
    return render(request, "bulk/staff/service.html", context, status=status)


@admin_page
def service(request: HttpRequest, service_id: int) -> HttpResponse:
    """One service: its client ID and keys; change what it may export."""
    found = get_object_or_404(BackendService, pk=service_id)
    if request.method != "POST":
        return _service_page(request, found)
    form = ServiceForm(request.POST)
    if not form.is_valid():
        return _service_page(request, found, form=form, status=400)
    try:
        actions.do_update_service(Actor.from_request(request), found, **form.action_fields())
    except actions.BulkRefused as refusal:
        return _service_page(request, found, form=form, refusal=str(refusal), status=403)
    messages.success(request, _("%(service)s is saved.") % {"service": form.cleaned_data["name"]})
    return redirect("staff_bulk:service", service_id=found.pk)


@admin_page
@require_POST
def service_keys(request: HttpRequest, service_id: int) -> HttpResponse:
    found = get_object_or_404(BackendService, pk=service_id)
    keys_form = KeysForm(request.POST)
    if not keys_form.is_valid():
        return _service_page(request, found, keys_form=keys_form, status=400)
    try:
        actions.do_replace_service_keys(Actor.from_request(request), found, keys_form.cleaned_data["jwks"])
    except actions.BulkRefused as refusal:
        return _service_page(request, found, refusal=str(refusal), status=403)
    messages.success(request, _("The keys of %(service)s are replaced.") % {"service": found.name})
    return redirect("staff_bulk:service", service_id=found.pk)


@admin_page
@require_POST
def suspend(request: HttpRequest, service_id: int) -> HttpResponse:
    found = get_object_or_404(BackendService, pk=service_id)
    try:
        ended = actions.do_suspend_service(Actor.from_request(request), found)
    except actions.BulkRefused as refusal:
        return _service_page(request, found, refusal=str(refusal), status=409)
    messages.success(
        request,
        _("%(service)s is suspended; %(count)d live tokens ended.") % {"service": found.name, "count": ended},
    )
    return redirect("staff_bulk:service", service_id=found.pk)


@admin_page
@require_POST
def reinstate(request: HttpRequest, service_id: int) -> HttpResponse:
    found = get_object_or_404(BackendService, pk=service_id)
    try:
        actions.do_reinstate_service(Actor.from_request(request), found)
    except actions.BulkRefused as refusal:
        return _service_page(request, found, refusal=str(refusal), status=409)
    messages.success(request, _("%(service)s can ask for tokens again.") % {"service": found.name})
    return redirect("staff_bulk:service", service_id=found.pk)


@admin_page
def new_group(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = actions.do_create_group(Actor.from_request(request), **form.action_fields())
        except actions.BulkRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("The group %(group)s is created.") % {"group": group.name})
            return redirect("staff_bulk:group", group_id=group.pk)
    status = 400 if form.is_bound else 200
    return render(request, "bulk/staff/group.html", {"form": form, "group": None}, status=status)


@admin_page
def group(request: HttpRequest, group_id: int) -> HttpResponse:
    """One group: its rule, how many patients it holds today, and which services may export it."""
    found = get_object_or_404(PatientGroup.objects.select_related("campus", "care_team"), pk=group_id)
    form = GroupForm(
        request.POST or None,
        initial={
            "name": found.name,
            "description": found.description,
            "campus": found.campus,
            "care_team": found.care_team,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_group(Actor.from_request(request), found, **form.action_fields())
        except actions.BulkRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request, _("The group %(group)s is saved.") % {"group": form.cleaned_data["name"]}
            )
            return redirect("staff_bulk:group", group_id=found.pk)
    context = {
        "form": form,
        "group": found,
        # One count, on this page only: the list page never counts the patient table.
        "member_count": members(found).count(),
        "services": list(found.services.order_by("name", "id")[:MAX_LISTED]),
    }
    return render(request, "bulk/staff/group.html", context, status=400 if form.is_bound else 200)
