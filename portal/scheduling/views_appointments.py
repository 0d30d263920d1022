"""The patient's appointments: the list, one visit, cancel, reschedule, calendar file, notices.

Seeing needs the view or the schedule scope; every change needs the schedule scope and
goes through `require_appointment(..., manage=True)`, so a visit that is not the
reader's to change is the same 404 as a missing one. Inside the self-service cutoff
the pages do not offer changes: they give the campus's scheduling desk number instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.audit.actor import Actor
from portal.lib.campus_time import when_label
from portal.organization.models import Campus
from portal.patients.access import PatientAccess, record_read
from portal.patients.selection import patient_page
from portal.records.listing import dated_page
from portal.scheduling.access import (
    appointments_of,
    may_manage_appointments,
    may_see_appointments,
    require_appointment,
)
from portal.scheduling.actions_appointments import NoticeRefused, do_send_notice, may_send_notice
from portal.scheduling.booking import (
    BookingRefused,
    SlotTaken,
    do_cancel_appointment,
    do_reschedule_appointment,
    may_change_online,
)
from portal.scheduling.forms_appointments import CancelForm, NoticeForm, RescheduleForm
from portal.scheduling.models import Appointment, Slot
from portal.scheduling.search import by_campus_day, find_open_slots

PER_PAGE = 20
# A patient has a handful of upcoming visits; the cap only guards the page.
UPCOMING_CAP = 50
SLOTS_PER_PAGE = 16
ACTIVE = (Appointment.Status.BOOKED, Appointment.Status.ARRIVED)
MAP_SEARCH = "https://www.openstreetmap.org/search"


def upcoming_condition(now: dt.datetime | None = None) -> Q:
    """Booked or checked-in visits from the start of today in their own campus's zone.

    "Today" differs between campuses, so the condition names each campus's local
    midnight (one query for the campuses, whatever the history).
    """
    now = now or timezone.now()
    from_today = Q(pk__in=[])
    for campus in Campus.objects.only("pk", "time_zone"):
        midnight = dt.datetime.combine(now.astimezone(campus.zone).date(), dt.time(), tzinfo=campus.zone)
        from_today |= Q(campus_id=campus.pk, starts_at__gte=midnight)
    return Q(status__in=ACTIVE) & from_today


def _changeable(access: PatientAccess, appointment: Appointment) -> bool:
    # Patient pages are never staff pages (access.require_appointment), so the cutoff always applies.
    return may_change_online(appointment)


def _base_context(access: PatientAccess, appointment: Appointment) -> dict[str, Any]:
    return {
        "access": access,
        "appointment": appointment,
        "campus": appointment.campus,
        "cutoff_hours": settings.PORTAL_SELF_SERVICE_CUTOFF_HOURS,
        "changeable": _changeable(access, appointment),
        "may_manage": may_manage_appointments(access),
    }


# The list and one visit -----------------------------------------------------------------


@patient_page(scope=None)
@require_GET
def appointment_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not may_see_appointments(access):
        return render(request, "patients/scope_missing.html", {"access": access}, status=403)
    upcoming = upcoming_condition()
    rows = appointments_of(access)
    soon = list(rows.filter(upcoming).order_by("starts_at", "id")[: UPCOMING_CAP + 1])
    past = dated_page(rows.exclude(upcoming), request.GET.get("after"), PER_PAGE, "starts_at")
    record_read(request, access, "appointment.list_view")
    context = {
        "access": access,
        "upcoming": soon[:UPCOMING_CAP],
        "more_upcoming": len(soon) > UPCOMING_CAP,
        "page": past,
        "paged": bool(request.GET.get("after")),
        "may_manage": may_manage_appointments(access),
    }
    return render(request, "scheduling/appointments/list.html", context)


@patient_page(scope=None)
@require_GET
def appointment_detail(request: HttpRequest, _viewing: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id)
    return _detail(request, access, appointment, NoticeForm())


def _detail(
    request: HttpRequest,
    access: PatientAccess,
    appointment: Appointment,
    notice_form: NoticeForm,
    *,
    notice_problem: str = "",
    status: int = 200,
) -> HttpResponse:
    record_read(request, access, "appointment.view", obj=appointment)
    context = _base_context(access, appointment)
    campus = appointment.campus
    context.update(
        {
            "map_url": f"{MAP_SEARCH}?{urlencode({'query': campus.one_line_address})}",
            "notices": list(appointment.notices.all()),
            "notice_form": notice_form,
            "notice_problem": notice_problem,
            "may_send_notice": context["may_manage"] and may_send_notice(appointment),
            "coming_up": appointment.status == Appointment.Status.BOOKED
            and appointment.ends_at > timezone.now(),
        }
    )
    return render(request, "scheduling/appointments/detail.html", context, status=status)


@patient_page(scope=None)
@require_GET
def calendar_file(request: HttpRequest, _viewing: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id)
    record_read(request, access, "appointment.calendar", obj=appointment)
    # icalendar is imported on the first calendar file, not at every process's start-up.
    from portal.scheduling.ics import calendar_for, filename_for, uid_domain

    body = calendar_for(appointment, uid_domain()).to_ical()
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename_for(appointment)}"'
    return response


# Changes --------------------------------------------------------------------------------


def _cannot_change(
    request: HttpRequest,
    access: PatientAccess,
    appointment: Appointment,
    change: str,
    *,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """Say why the visit cannot be changed online, and who to call instead."""
    context = _base_context(access, appointment) | {"change": change, "refusal": refusal}
    return render(request, "scheduling/appointments/cannot_change.html", context, status=status)


@patient_page(scope=None)
@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request: HttpRequest, _viewing: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id, manage=True)
    if request.method != "POST":
        record_read(request, access, "appointment.view", obj=appointment)
        if not _changeable(access, appointment):
            return _cannot_change(request, access, appointment, "cancel")
        context = _base_context(access, appointment) | {"form": CancelForm()}
        return render(request, "scheduling/appointments/cancel.html", context)
    form = CancelForm(request.POST)
    if not form.is_valid():
        context = _base_context(access, appointment) | {"form": form}
        return render(request, "scheduling/appointments/cancel.html", context, status=400)
    try:
        do_cancel_appointment(Actor.from_request(request), access, appointment, form.cleaned_data["reason"])
    except BookingRefused as refusal:
        return _cannot_change(request, access, appointment, "cancel", refusal=refusal.message, status=409)
    messages.success(
        request,
        _("Your %(visit)s on %(when)s is cancelled.")
        % {"visit": appointment.visit_type.name, "when": _when(appointment)},
    )
    return redirect("appointments:list")


def _when(appointment: Appointment) -> str:
    return when_label(appointment.starts_at, appointment.campus)


@patient_page(scope=None)
@require_http_methods(["GET", "HEAD", "POST"])
def reschedule(request: HttpRequest, _viewing: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id, manage=True)
    record_read(request, access, "appointment.view", obj=appointment)
    is_post = request.method == "POST"
    if not _changeable(access, appointment):
        return _cannot_change(request, access, appointment, "reschedule", status=409 if is_post else 200)
    if not appointment.visit_type.self_schedulable:
        return _cannot_change(request, access, appointment, "desk_only", status=409 if is_post else 200)
    problem, status = "", 200
    if is_post:
        outcome = _move(request, access, appointment)
        if isinstance(outcome, Appointment):
            messages.success(
                request,
                _("Your visit is now on %(when)s.") % {"when": _when(outcome)},
            )
            return redirect("appointments:detail", outcome.pk)
        problem, status = outcome
    return _picker(request, access, appointment, problem, status)


def _move(
    request: HttpRequest, access: PatientAccess, appointment: Appointment
) -> Appointment | tuple[str, int]:
    """Reschedule to the chosen slot, or say why not (message and HTTP status)."""
    form = RescheduleForm(request.POST)
    slot = None
    if form.is_valid():
        # Only a slot at the same campus: the picker never offers another.
        slot = Slot.objects.filter(pk=form.cleaned_data["slot"], campus_id=appointment.campus_id).first()
    if slot is None:
        return _("Choose one of the times shown."), 400
    try:
        return do_reschedule_appointment(Actor.from_request(request), access, appointment, slot)
    except SlotTaken:
        return _("That time was just taken. Here are other times you can choose."), 409
    except BookingRefused as refusal:
        return refusal.message, 409


def _picker(
    request: HttpRequest, access: PatientAccess, appointment: Appointment, problem: str, status: int
) -> HttpResponse:
    any_clinician = request.GET.get("clinician") == "any"
    after = _slot_cursor(request.GET.get("after"))
    found = find_open_slots(
        appointment.visit_type,
        appointment.campus,
        practitioner=None if any_clinician else appointment.practitioner,
        after=after,
        limit=SLOTS_PER_PAGE + 1,
    )
    shown = found[:SLOTS_PER_PAGE]
    context = _base_context(access, appointment) | {
        "days": by_campus_day(shown),
        "later": shown[-1].pk if len(found) > SLOTS_PER_PAGE else None,
        "paged": after is not None,
        "clinician": "any" if any_clinician else "same",
        "problem": problem,
    }
    return render(request, "scheduling/appointments/reschedule.html", context, status=status)


def _slot_cursor(value: Any) -> Slot | None:
    """The last slot already shown; anything that is not one starts from the earliest times."""
    try:
        slot_id = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < slot_id < 2**62:
        return None
    return Slot.objects.filter(pk=slot_id).first()


@patient_page(scope=None)
@require_POST
def notice(request: HttpRequest, _viewing: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id, manage=True)
    form = NoticeForm(request.POST)
    if not form.is_valid():
        return _detail(request, access, appointment, form, status=400)
    data = form.cleaned_data
    try:
        do_send_notice(
            Actor.from_request(request), access, appointment, data["kind"], data["minutes"], data["note"]
        )
    except NoticeRefused as refusal:
        return _detail(request, access, appointment, form, notice_problem=refusal.message, status=409)
    messages.success(
        request,
        _("The scheduling desk at %(campus)s has your message.") % {"campus": appointment.campus.name},
    )
    return redirect("appointments:detail", appointment.pk)
