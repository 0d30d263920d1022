"""Booking on a patient's behalf at the desk: find the patient, choose a kind of visit, a time."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_read, refuse, require_patient, staff_patients
from portal.patients.models import Scope
from portal.scheduling.access import appointments_of
from portal.scheduling.booking import BookingRefused, SlotTaken, do_book_appointment
from portal.scheduling.forms_desk import DeskBookForm, DeskBookSlotForm, upcoming_open_slots
from portal.scheduling.models import Appointment
from portal.scheduling.search import by_campus_day, find_open_slots
from portal.scheduling.views_desk_common import my_campuses
from portal.scheduling.views_desk_day import back_to_day
from portal.staff.decorators import staff_page
from portal.staff.forms import PatientSearchForm
from portal.staff.search import search_patients

UPCOMING_SHOWN = 10


def _patient_access(request: HttpRequest, patient_id: Any) -> PatientAccess:
    access = require_patient(request, patient_id, Scope.SCHEDULE)
    if not access.is_staff_access:
        refuse(request, access.patient, what="patients.patient", lookup=str(patient_id))
    return access


def _choose_patient(request: HttpRequest) -> HttpResponse:
    form = PatientSearchForm(request.GET if "q" in request.GET or "birth_date" in request.GET else None)
    results = None
    if form.is_bound and form.is_valid():
        reachable = staff_patients(signed_in_user(request))
        results = search_patients(reachable, form.cleaned_data["q"], form.cleaned_data["birth_date"])
    return render(request, "scheduling/desk/book_patient.html", {"form": form, "results": results})


def _book_page(
    request: HttpRequest,
    access: PatientAccess,
    data: Any,
    *,
    slot_form: DeskBookSlotForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    campuses = my_campuses(request)
    form = DeskBookForm(data if data is not None and "visit_type" in data else None, campuses=campuses)
    slots = []
    if form.is_bound and form.is_valid():
        slots = find_open_slots(
            form.cleaned_data["visit_type"],
            form.cleaned_data["campus"],
            practitioner=form.cleaned_data["practitioner"],
            for_desk=True,
        )
    upcoming = list(
        appointments_of(access)
        .filter(status=Appointment.Status.BOOKED, starts_at__gte=timezone.now())
        .order_by("starts_at", "pk")[:UPCOMING_SHOWN]
    )
    record_read(request, access, "appointment.desk_book_view")
    context = {
        "patient": access.patient,
        "form": form,
        "searched": form.is_bound and form.is_valid(),
        "days": by_campus_day(slots),
        "slot_form": slot_form or DeskBookSlotForm(slots=upcoming_open_slots(campuses)),
        "upcoming": upcoming,
        "problem": problem,
    }
    return render(request, "scheduling/desk/book.html", context, status=status)


@staff_page
def book(request: HttpRequest) -> HttpResponse:
    """GET: find the patient, then times; POST: book the chosen time for them."""
    campuses = my_campuses(request)
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    data = request.POST if request.method == "POST" else request.GET
    if not data.get("patient"):
        return _choose_patient(request)
    access = _patient_access(request, data.get("patient"))
    if request.method != "POST":
        return _book_page(request, access, data)
    choice = DeskBookForm(request.POST, campuses=campuses)
    slot_form = DeskBookSlotForm(request.POST, slots=upcoming_open_slots(campuses))
    if not (choice.is_valid() and slot_form.is_valid()):
        # A time that stopped being open between the list and the click fails as a choice.
        if "slot" in slot_form.errors and request.POST.get("slot"):
            problem = _("That time was just taken. Choose another.")
            return _book_page(request, access, request.POST, slot_form=slot_form, problem=problem, status=409)
        return _book_page(request, access, request.POST, slot_form=slot_form, status=400)
    slot = slot_form.cleaned_data["slot"]
    if slot.campus_id != choice.cleaned_data["campus"].pk:
        problem = _("That time is at another campus. Search again.")
        return _book_page(request, access, request.POST, slot_form=slot_form, problem=problem, status=400)
    try:
        appointment = do_book_appointment(
            Actor.from_request(request),
            access,
            slot,
            choice.cleaned_data["visit_type"],
            reason=slot_form.cleaned_data["reason"],
            via=Appointment.Via.DESK,
        )
    except SlotTaken:
        problem = _("That time was just taken. Choose another.")
        return _book_page(request, access, request.POST, slot_form=slot_form, problem=problem, status=409)
    except BookingRefused as refusal:
        return _book_page(
            request, access, request.POST, slot_form=slot_form, problem=refusal.message, status=400
        )
    messages.success(request, _("Booked for %(name)s.") % {"name": access.patient.full_name})
    return back_to_day(appointment)
