"""The desk's day list: every visit of a campus-local day, and what the desk does with them.

The list costs a fixed number of queries however full the day: the appointments with
their patient, clinician and visit type in one, their notices in one more, and the
pre-check-in progress in whatever fixed number `progress_for` needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit.actor import Actor
from portal.organization.models import Campus
from portal.patients.access import PatientAccess
from portal.scheduling import actions_desk
from portal.scheduling.booking import BookingRefused, do_cancel_appointment
from portal.scheduling.checkin_progress import Progress, progress_for
from portal.scheduling.forms_desk import CancelForm, DayForm
from portal.scheduling.models import Appointment, PatientNotice
from portal.scheduling.views_desk import campus_day_bounds
from portal.scheduling.views_desk_common import audit_list, desk_appointment, desk_campus
from portal.staff.decorators import staff_page


def _day(request: HttpRequest, campus: Campus) -> dt.date:
    today = campus.local_now().date()
    if not request.GET.get("date"):
        return today
    form = DayForm(request.GET)
    if form.is_valid() and form.cleaned_data["date"] is not None:
        return form.cleaned_data["date"]
    messages.warning(request, _("That is not a date we understand, so here is today."))
    return today


def _check_in_progress(appointments: list[Appointment]) -> dict[int, Progress]:
    booked = [appointment for appointment in appointments if appointment.status == Appointment.Status.BOOKED]
    return progress_for(booked) if booked else {}


@staff_page
@require_GET
def day(request: HttpRequest, campus_slug: str) -> HttpResponse:
    """Every appointment of one campus-local day, in time order."""
    campus = desk_campus(request, campus_slug)
    shown_day = _day(request, campus)
    start, end = campus_day_bounds(campus, shown_day)
    notices = PatientNotice.objects.order_by("created_at", "pk")
    appointments = list(
        Appointment.objects.filter(campus=campus, starts_at__gte=start, starts_at__lt=end)
        .select_related("patient", "practitioner", "visit_type", "campus")
        .prefetch_related(Prefetch("notices", queryset=notices))
        .order_by("starts_at", "pk")
    )
    progress = _check_in_progress(appointments)
    audit_list(
        request, "appointment.desk_day_view", appointments, campus=campus.slug, day=shown_day.isoformat()
    )
    now = timezone.now()
    context = {
        "campus": campus,
        "day": shown_day,
        "day_start": start,
        "previous_day": shown_day - dt.timedelta(days=1),
        "next_day": shown_day + dt.timedelta(days=1),
        "rows": [
            {
                "appointment": appointment,
                "notices": list(appointment.notices.all()),
                "progress": progress.get(appointment.pk),
                "may_arrive": appointment.status == Appointment.Status.BOOKED,
                "may_no_show": appointment.status == Appointment.Status.BOOKED
                and appointment.starts_at <= now,
            }
            for appointment in appointments
        ],
        "cancel_form": CancelForm(),
    }
    return render(request, "scheduling/desk/day.html", context)


def back_to_day(appointment: Appointment) -> HttpResponse:
    local_day = appointment.starts_at.astimezone(appointment.campus.zone).date()
    url = reverse("desk:day", kwargs={"campus_slug": appointment.campus.slug})
    return redirect(f"{url}?date={local_day.isoformat()}")


def _run(request: HttpRequest, appointment_id: int, act: Any, done: str) -> HttpResponse:
    appointment, access = desk_appointment(request, appointment_id)
    try:
        act(Actor.from_request(request), access, appointment)
    except BookingRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, done)
    return back_to_day(appointment)


@staff_page
@require_POST
def arrived(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _run(request, appointment_id, actions_desk.do_mark_arrived, _("Checked in."))


@staff_page
@require_POST
def no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _run(request, appointment_id, actions_desk.do_mark_no_show, _("Marked as missed."))


@staff_page
@require_POST
def cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Cancel for the patient (who called, say): staff have no online cutoff."""
    form = CancelForm(request.POST)
    if not form.is_valid():
        appointment, _access = desk_appointment(request, appointment_id)
        messages.error(request, _("Keep the reason under 300 characters."))
        return back_to_day(appointment)
    reason = form.cleaned_data["reason"]

    def cancel_it(actor: Actor, access: PatientAccess, appointment: Appointment) -> None:
        do_cancel_appointment(actor, access, appointment, reason)

    return _run(request, appointment_id, cancel_it, _("Appointment cancelled. The time is open again."))


@staff_page
@require_POST
def acknowledge(request: HttpRequest, appointment_id: int, notice_id: int) -> HttpResponse:
    appointment, access = desk_appointment(request, appointment_id)
    notice = appointment.notices.filter(pk=notice_id).first()
    if notice is None:
        raise Http404
    actions_desk.do_acknowledge_notice(Actor.from_request(request), access, notice)
    messages.success(request, _("Notice acknowledged."))
    return back_to_day(appointment)
