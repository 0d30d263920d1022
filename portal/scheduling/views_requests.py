"""Appointment requests on the patient side: ask the desk, follow the answer, accept a time.

Requests and offers are the patient's own rows, so each one a URL names is loaded
through `access.require_patient_object`: another patient's request or offer is the same
audited 404 as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.scheduling import actions_requests as actions
from portal.scheduling import booking
from portal.scheduling.access import require_patient_object
from portal.scheduling.forms_requests import RequestForm
from portal.scheduling.models import AppointmentRequest, Slot, SlotOffer

MY_REQUESTS_SHOWN = 50


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.SCHEDULE)
def new_request(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if request.method == "POST":
        form = RequestForm(request.POST)
    else:
        wanted = {key: request.GET.get(key, "") for key in ("campus", "department")}
        form = RequestForm(initial={key: value for key, value in wanted.items() if value.isdigit()})
    if request.method == "POST" and form.is_valid():
        try:
            appointment_request = actions.do_submit_request(
                Actor.from_request(request), access, **form.cleaned_data
            )
        except actions.RequestRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, _sent_message(appointment_request))
            return redirect("appointment_requests:detail", request_id=appointment_request.pk)
    status = 400 if form.is_bound else 200
    return render(request, "scheduling/requests/new.html", {"access": access, "form": form}, status=status)


def _sent_message(appointment_request: AppointmentRequest) -> str:
    campus = appointment_request.campus
    return _(
        "Your request was sent to the %(campus)s scheduling desk. You will get a notification when they answer."
    ) % {"campus": campus.short_name or campus.name}


@require_safe
@patient_page(Scope.SCHEDULE)
def request_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    requests = list(
        AppointmentRequest.objects.filter(patient=access.patient).select_related(
            "campus", "department", "practitioner"
        )[:MY_REQUESTS_SHOWN]
    )
    record_read(request, access, "appointment_request.list_view")
    context = {"access": access, "requests": requests, "capped": len(requests) == MY_REQUESTS_SHOWN}
    return render(request, "scheduling/requests/list.html", context)


@dataclass(frozen=True)
class OfferRow:
    """An offered time and whether it can still be accepted."""

    offer: SlotOffer
    acceptable: bool
    expired: bool
    gone: bool  # offered, but someone else has the slot now


def _offer_rows(appointment_request: AppointmentRequest) -> list[OfferRow]:
    now = timezone.now()
    offers = appointment_request.offers.filter(kind=SlotOffer.Kind.REQUEST).select_related(
        "slot__campus", "slot__practitioner", "visit_type"
    )
    rows = []
    for offer in offers.order_by("slot__starts_at", "id"):
        waiting = offer.status == SlotOffer.Status.OPEN
        expired = offer.status == SlotOffer.Status.EXPIRED or (waiting and offer.expires_at <= now)
        slot_free = offer.slot.status == Slot.Status.OPEN and offer.slot.starts_at > now
        gone = waiting and not expired and not slot_free
        acceptable = waiting and not expired and not gone and appointment_request.is_open
        rows.append(OfferRow(offer, acceptable, expired, gone))
    return rows


def _detail_page(
    request: HttpRequest,
    access: PatientAccess,
    appointment_request: AppointmentRequest,
    *,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "access": access,
        "appointment_request": appointment_request,
        "offers": _offer_rows(appointment_request),
        "problem": problem,
    }
    return render(request, "scheduling/requests/detail.html", context, status=status)


def _load_request(request: HttpRequest, request_id: int) -> tuple[AppointmentRequest, PatientAccess]:
    return require_patient_object(
        request,
        AppointmentRequest.objects.select_related("campus", "department", "practitioner", "appointment"),
        request_id,
    )


@require_safe
@patient_page(Scope.SCHEDULE)
def request_detail(request: HttpRequest, access: PatientAccess, request_id: int) -> HttpResponse:
    appointment_request, access = _load_request(request, request_id)
    record_read(request, access, "appointment_request.view", obj=appointment_request)
    return _detail_page(request, access, appointment_request)


@require_POST
@patient_page(Scope.SCHEDULE)
def withdraw(request: HttpRequest, access: PatientAccess, request_id: int) -> HttpResponse:
    appointment_request, access = _load_request(request, request_id)
    try:
        actions.do_withdraw_request(Actor.from_request(request), access, appointment_request)
    except actions.RequestRefused as refusal:
        return _detail_page(request, access, appointment_request, problem=refusal.message, status=400)
    messages.success(request, _("Your request was withdrawn."))
    return redirect("appointment_requests:detail", request_id=appointment_request.pk)


@require_POST
@patient_page(Scope.SCHEDULE)
def accept(request: HttpRequest, access: PatientAccess, offer_id: int) -> HttpResponse:
    offer, access = require_patient_object(
        request,
        SlotOffer.objects.filter(kind=SlotOffer.Kind.REQUEST, request__isnull=False).select_related(
            "request__campus", "request__department", "request__practitioner"
        ),
        offer_id,
    )
    # The queryset above admits only offers made for a request.
    appointment_request: AppointmentRequest = offer.request  # type: ignore[assignment]
    try:
        appointment = actions.do_accept_request_offer(Actor.from_request(request), access, offer)
    except booking.SlotTaken:
        problem = _(
            "That time was just taken by someone else. Nothing was booked: choose another time below."
        )
        return _detail_page(request, access, appointment_request, problem=problem, status=409)
    except (actions.RequestRefused, booking.BookingRefused) as refusal:
        return _detail_page(request, access, appointment_request, problem=refusal.message, status=400)
    messages.success(request, _("Your appointment is booked."))
    return redirect("appointments:detail", appointment_id=appointment.pk)
