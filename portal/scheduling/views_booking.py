"""Self-scheduling on the patient side: choose a visit, see open times, confirm and book.

Slots belong to no patient, so they are loaded directly (open, at an active campus, in
the future); the booking itself goes through `booking.do_book_appointment`, whose
conditional UPDATE decides who gets a slot two people wanted. The loser sees "that time
was just taken" (409) with other times, and nothing is booked for them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from portal.audit.actor import Actor
from portal.billing.estimates import visit_estimate
from portal.patients.access import PatientAccess
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.scheduling import booking
from portal.scheduling.forms_booking import MAX_ID, BookingChoiceForm, ConfirmForm, bookable_visit_types
from portal.scheduling.models import Slot, VisitType
from portal.scheduling.search import by_campus_day, find_open_slots

PER_PAGE = 24
ALTERNATIVES = 6


@require_safe
@patient_page(Scope.SCHEDULE)
def start(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """One question at a time: visit type, campus, then clinician (which leads to the times)."""
    form = BookingChoiceForm(request.GET or None, access)
    if form.is_bound:
        form.is_valid()
    return _start_page(request, access, form)


def _start_page(
    request: HttpRequest, access: PatientAccess, form: BookingChoiceForm, status: int = 200
) -> HttpResponse:
    context = {
        "access": access,
        "form": form,
        "step": form.step,
        "visit_type": form.chosen_visit_type(),
        "campus": form.chosen_campus(),
    }
    return render(request, "scheduling/booking/start.html", context, status=status)


@require_safe
@patient_page(Scope.SCHEDULE)
def slots(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Open times for the choice, by campus-local day, a page at a time."""
    form = BookingChoiceForm(request.GET, access)
    valid = form.is_valid()
    visit_type, campus = form.chosen_visit_type(), form.chosen_campus()
    if valid and campus is None:
        form.add_error("campus", _("Choose where you would like to be seen."))
    if not form.is_valid() or visit_type is None or campus is None:
        return _start_page(request, access, form, status=400)
    clinician = form.chosen_clinician()
    after_id = form.cleaned_data["after"]
    after = Slot.objects.filter(pk=after_id, campus=campus).first() if after_id else None
    found = find_open_slots(visit_type, campus, practitioner=clinician, after=after, limit=PER_PAGE + 1)
    shown = found[:PER_PAGE]
    choice = {
        "visit_type": visit_type.pk,
        "campus": campus.pk,
        "clinician": clinician.pk if clinician else "",
    }
    context = {
        "access": access,
        "visit_type": visit_type,
        "campus": campus,
        "clinician": clinician,
        "days": by_campus_day(shown),
        "paged": after is not None,
        "first_query": urlencode(choice),
        "later_query": urlencode({**choice, "after": shown[-1].pk}) if len(found) > PER_PAGE else "",
        "request_query": urlencode({"campus": campus.pk, "department": visit_type.department_id or ""}),
    }
    return render(request, "scheduling/booking/slots.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.SCHEDULE)
def confirm(request: HttpRequest, access: PatientAccess, slot_id: int) -> HttpResponse:
    """GET shows what will be booked; POST books it."""
    slot = _bookable_slot(slot_id)
    data = request.POST if request.method == "POST" else {"visit_type": request.GET.get("visit_type", "")}
    form = ConfirmForm(data)
    visit_type = _visit_type_for(access, slot, form["visit_type"].value())
    if request.method != "POST":
        form = ConfirmForm(initial={"visit_type": visit_type.pk})
        return _confirm_page(request, access, slot, visit_type, form)
    if not form.is_valid():
        return _confirm_page(request, access, slot, visit_type, form, status=400)
    try:
        appointment = booking.do_book_appointment(
            Actor.from_request(request), access, slot, visit_type, reason=form.cleaned_data["reason"]
        )
    except booking.SlotTaken:
        return taken_page(request, access, slot, visit_type)
    except booking.BookingRefused as refusal:
        return _refused_page(request, access, slot, visit_type, refusal.message)
    messages.success(request, _("Your appointment is booked."))
    return redirect("appointments:detail", appointment_id=appointment.pk)


def _bookable_slot(slot_id: int) -> Slot:
    """An unblocked future slot at an active campus, or 404; a booked one is shown as taken."""
    if slot_id > MAX_ID:
        raise Http404
    slot = (
        Slot.objects.filter(pk=slot_id, campus__is_active=True, starts_at__gt=timezone.now())
        .exclude(status=Slot.Status.BLOCKED)
        .select_related("template", "practitioner", "campus", "department")
        .first()
    )
    if slot is None:
        raise Http404
    return slot


def _visit_type_for(access: PatientAccess, slot: Slot, raw_id: Any) -> VisitType:
    """The visit type named by the page, if the patient may book it in this slot; else 404."""
    try:
        visit_type_id = int(raw_id)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < visit_type_id <= MAX_ID:
        raise Http404
    visit_type = bookable_visit_types(access).filter(pk=visit_type_id).first()
    if visit_type is None or not slot.template.visit_types.filter(pk=visit_type.pk).exists():
        raise Http404
    return visit_type


def _confirm_page(
    request: HttpRequest,
    access: PatientAccess,
    slot: Slot,
    visit_type: VisitType,
    form: ConfirmForm,
    status: int = 200,
) -> HttpResponse:
    if status == 200 and not _free_now(slot):
        return taken_page(request, access, slot, visit_type)
    try:
        booking.check_bookable(access, slot, visit_type, by_desk=False)
    except booking.BookingRefused as refusal:
        return _refused_page(request, access, slot, visit_type, refusal.message)
    context = {
        "access": access,
        "slot": slot,
        "visit_type": visit_type,
        "form": form,
        "estimate": visit_estimate(access, visit_type),
    }
    return render(request, "scheduling/booking/confirm.html", context, status=status)


def _free_now(slot: Slot) -> bool:
    # A slot held for waitlist offers is not for the general search until the hold ends.
    held = slot.held_until is not None and slot.held_until > timezone.now()
    return slot.status == Slot.Status.OPEN and not held


def alternatives(slot: Slot, visit_type: VisitType) -> list[Slot]:
    """Up to six other open times for the same visit at the same campus, same clinician first."""
    same_clinician = find_open_slots(
        visit_type, slot.campus, practitioner=slot.practitioner, limit=ALTERNATIVES + 1
    )
    others = find_open_slots(visit_type, slot.campus, limit=ALTERNATIVES * 2 + 1)
    chosen: list[Slot] = []
    for candidate in [*same_clinician, *others]:
        if candidate.pk != slot.pk and all(candidate.pk != kept.pk for kept in chosen):
            chosen.append(candidate)
    return chosen[:ALTERNATIVES]


def taken_page(
    request: HttpRequest, access: PatientAccess, slot: Slot, visit_type: VisitType
) -> HttpResponse:
    context = {
        "access": access,
        "slot": slot,
        "visit_type": visit_type,
        "alternatives": alternatives(slot, visit_type),
        "slots_query": urlencode({"visit_type": visit_type.pk, "campus": slot.campus_id}),
    }
    return render(request, "scheduling/booking/taken.html", context, status=409)


def _refused_page(
    request: HttpRequest, access: PatientAccess, slot: Slot, visit_type: VisitType, message: str
) -> HttpResponse:
    context = {
        "access": access,
        "slot": slot,
        "visit_type": visit_type,
        "message": message,
        "request_query": urlencode({"campus": slot.campus_id, "department": slot.department_id}),
    }
    return render(request, "scheduling/booking/refused.html", context, status=400)
