"""The scheduling desk's home, request queue and request page (offer, book, decline).

The day list is in `views_desk_day.py`, booking on a patient's behalf in
`views_desk_book.py`; loading and auditing helpers in `views_desk_common.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_read
from portal.scheduling import actions_desk
from portal.scheduling.access import appointments_of
from portal.scheduling.booking import BookingRefused, SlotTaken
from portal.scheduling.forms_desk import (
    BookSlotForm,
    DeclineForm,
    OfferForm,
    QueueFilterForm,
    SlotSearchForm,
    campus_clinicians,
    desk_visit_types,
    upcoming_open_slots,
)
from portal.scheduling.models import Appointment, AppointmentRequest, Slot
from portal.scheduling.search import by_campus_day, find_open_slots
from portal.scheduling.views_desk_common import audit_list, desk_campus, desk_request, my_campuses
from portal.staff.decorators import staff_page

QUEUE_ROWS = 50
UPCOMING_SHOWN = 10
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
OPEN_FIRST = Case(
    When(status=AppointmentRequest.Status.SUBMITTED, then=Value(0)),
    When(status=AppointmentRequest.Status.OFFERED, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


# Home ------------------------------------------------------------------------------------


@staff_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The user's desks, each with its new requests and today's visits."""
    campuses = list(my_campuses(request))
    if len(campuses) == 1:
        return redirect("desk:queue", campus_slug=campuses[0].slug)
    rows = []
    for campus in campuses:
        start, end = campus_day_bounds(campus, campus.local_now().date())
        rows.append(
            {
                "campus": campus,
                "new_requests": campus.appointment_requests.filter(
                    status=AppointmentRequest.Status.SUBMITTED
                ).count(),
                "visits_today": campus.appointments.filter(starts_at__gte=start, starts_at__lt=end)
                .exclude(status=Appointment.Status.CANCELLED)
                .count(),
            }
        )
    return render(request, "scheduling/desk/home.html", {"rows": rows})


def campus_day_bounds(campus: Any, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants a campus-local day starts and ends (23 or 25 hours across a clock change)."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=campus.zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=campus.zone)
    return start, end


# Queue -----------------------------------------------------------------------------------


def _cursor(appointment_request: Any) -> str:
    micros = (appointment_request.created_at - EPOCH) // dt.timedelta(microseconds=1)
    return f"{appointment_request.open_rank}.{micros}.{appointment_request.pk}"


def _after_cursor(requests: QuerySet[AppointmentRequest], cursor: str) -> QuerySet[AppointmentRequest]:
    """Rows after the keyset cursor (rank, created_at, id); a malformed cursor is the first page."""
    try:
        rank, micros, pk = (int(part) for part in cursor.split("."))
        created = EPOCH + dt.timedelta(microseconds=micros)
    except (ValueError, OverflowError):
        return requests
    return requests.filter(
        Q(open_rank__gt=rank)
        | Q(open_rank=rank, created_at__gt=created)
        | Q(open_rank=rank, created_at=created, pk__gt=pk)
    )


def _filtered(requests: QuerySet[AppointmentRequest], form: QueueFilterForm) -> QuerySet[AppointmentRequest]:
    if not form.is_valid():
        return requests
    status = form.cleaned_data["status"]
    if status == "open":
        requests = requests.filter(status__in=AppointmentRequest.OPEN_STATUSES)
    elif status:
        requests = requests.filter(status=status)
    if form.cleaned_data["department"] is not None:
        requests = requests.filter(department=form.cleaned_data["department"])
    return requests


@staff_page
@require_GET
def queue(request: HttpRequest, campus_slug: str) -> HttpResponse:
    """The campus's requests: waiting for the desk, then waiting for the patient, oldest first."""
    campus = desk_campus(request, campus_slug)
    form = QueueFilterForm(request.GET, campus=campus)
    requests = _filtered(
        AppointmentRequest.objects.filter(campus=campus).annotate(open_rank=OPEN_FIRST), form
    ).select_related("patient", "department", "visit_type")
    cursor = request.GET.get("after", "")[:80]
    rows = list(_after_cursor(requests, cursor).order_by("open_rank", "created_at", "pk")[: QUEUE_ROWS + 1])
    shown = rows[:QUEUE_ROWS]
    audit_list(request, "appointment_request.desk_queue_view", shown, campus=campus.slug)
    filters = request.GET.copy()
    filters.pop("after", None)
    context = {
        "campus": campus,
        "form": form,
        "requests": shown,
        "next_cursor": _cursor(shown[-1]) if len(rows) > QUEUE_ROWS else None,
        "filters": filters.urlencode(),
        "paged": bool(cursor),
    }
    return render(request, "scheduling/desk/queue.html", context)


# One request -----------------------------------------------------------------------------


def _search_form(appointment_request: AppointmentRequest, data: Any) -> SlotSearchForm:
    visit_types = desk_visit_types(appointment_request.department)
    clinicians = campus_clinicians([appointment_request.campus], appointment_request.department)
    if data is None or "visit_type" not in data:
        default = appointment_request.visit_type if appointment_request.visit_type_id else visit_types.first()
        data = {
            "visit_type": default.pk if default is not None else "",
            "practitioner": appointment_request.practitioner_id or "",
        }
    return SlotSearchForm(data, visit_types=visit_types, clinicians=clinicians)


def _found_slots(appointment_request: AppointmentRequest, search: SlotSearchForm) -> list[Slot]:
    if not appointment_request.is_open or not search.is_valid():
        return []
    return find_open_slots(
        search.cleaned_data["visit_type"],
        appointment_request.campus,
        practitioner=search.cleaned_data["practitioner"],
        for_desk=True,
    )


def _request_page(
    request: HttpRequest,
    appointment_request: AppointmentRequest,
    access: PatientAccess,
    *,
    data: Any = None,
    offer_form: OfferForm | None = None,
    decline_form: DeclineForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    patient = access.patient
    campus = appointment_request.campus
    search = _search_form(appointment_request, data)
    slots = _found_slots(appointment_request, search)
    upcoming = list(
        appointments_of(access)
        .filter(status=Appointment.Status.BOOKED, starts_at__gte=timezone.now())
        .order_by("starts_at", "pk")[:UPCOMING_SHOWN]
    )
    offers = list(
        appointment_request.offers.select_related(
            "slot__practitioner", "slot__campus", "visit_type"
        ).order_by("slot__starts_at", "pk")
    )
    record_read(request, access, "appointment_request.desk_view", obj=appointment_request)
    context = {
        "campus": campus,
        "appointment_request": appointment_request,
        "patient": patient,
        "age": patient.age_on(campus.local_now().date()),
        "upcoming": upcoming,
        "offers": offers,
        "search": search,
        "days": by_campus_day(slots),
        "offer_form": offer_form,
        "decline_form": decline_form or DeclineForm(),
        "problem": problem,
        "chosen": set(data.getlist("slots")) if hasattr(data, "getlist") else set(),
        "reply": data.get("reply", "") if request.method == "POST" and data is not None else "",
        "max_offered": actions_desk.MAX_OFFERED_SLOTS,
    }
    return render(request, "scheduling/desk/request.html", context, status=status)


@staff_page
@require_GET
def request_page(request: HttpRequest, request_id: int) -> HttpResponse:
    """One request: what the patient asked, who they are, and times to offer or book."""
    appointment_request, access = desk_request(request, request_id)
    return _request_page(request, appointment_request, access, data=request.GET)


@staff_page
@require_POST
def offer(request: HttpRequest, request_id: int) -> HttpResponse:
    appointment_request, access = desk_request(request, request_id)
    visit_types = desk_visit_types(appointment_request.department)
    form = OfferForm(
        request.POST, visit_types=visit_types, slots=upcoming_open_slots(appointment_request.campus)
    )
    if form.is_valid():
        try:
            actions_desk.do_offer_slots(
                Actor.from_request(request),
                access,
                appointment_request,
                form.cleaned_data["slots"],
                form.cleaned_data["visit_type"],
                form.cleaned_data["reply"],
            )
        except BookingRefused as refusal:
            return _request_page(
                request, appointment_request, access, data=request.POST, problem=refusal.message, status=400
            )
        messages.success(request, _("Times offered. The patient has been told."))
        return redirect("desk:request", request_id=appointment_request.pk)
    return _request_page(request, appointment_request, access, data=request.POST, offer_form=form, status=400)


@staff_page
@require_POST
def book_request(request: HttpRequest, request_id: int) -> HttpResponse:
    """Book one of the found times for the patient straight away."""
    appointment_request, access = desk_request(request, request_id)
    visit_types = desk_visit_types(appointment_request.department)
    form = BookSlotForm(
        request.POST, visit_types=visit_types, slots=upcoming_open_slots(appointment_request.campus)
    )
    problem, status = "", 400
    if not form.is_valid():
        # A time that stopped being open between the list and the click fails as a choice.
        if "slot" in form.errors and request.POST.get("slot"):
            problem, status = _("That time was just taken. Choose another."), 409
        else:
            problem = " ".join(str(error) for errors in form.errors.values() for error in errors)
    else:
        try:
            actions_desk.do_book_request(
                Actor.from_request(request),
                access,
                appointment_request,
                form.cleaned_data["slot"],
                form.cleaned_data["visit_type"],
                form.cleaned_data["reply"],
            )
        except SlotTaken:
            problem, status = _("That time was just taken. Choose another."), 409
        except BookingRefused as refusal:
            problem = refusal.message
        else:
            messages.success(request, _("Appointment booked. The patient has been told."))
            return redirect("desk:request", request_id=appointment_request.pk)
    return _request_page(
        request, appointment_request, access, data=request.POST, problem=problem, status=status
    )


@staff_page
@require_POST
def decline(request: HttpRequest, request_id: int) -> HttpResponse:
    appointment_request, access = desk_request(request, request_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            actions_desk.do_decline_request(
                Actor.from_request(request), access, appointment_request, form.cleaned_data["reason"]
            )
        except BookingRefused as refusal:
            return _request_page(request, appointment_request, access, problem=refusal.message, status=400)
        messages.success(request, _("Request declined. The patient has been told why."))
        return redirect("desk:queue", campus_slug=appointment_request.campus.slug)
    return _request_page(request, appointment_request, access, decline_form=form, status=400)
