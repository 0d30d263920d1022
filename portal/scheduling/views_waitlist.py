"""Earlier times: asking to be moved earlier, the list of what is waiting, and answering an offer.

Appointments are loaded through `require_appointment(manage=True)` and entries and
offers through `require_patient_object`, so another patient's (or a proxy's without
the schedule scope) get the audited 404 a missing one gets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portal.audit.actor import Actor
from portal.lib import campus_time
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.scheduling import waitlist
from portal.scheduling.access import require_appointment, require_patient_object
from portal.scheduling.models import Appointment, SlotOffer, WaitlistEntry

ENTRIES_SHOWN = 50
OFFER_RELATED = (
    "slot__campus",
    "slot__practitioner",
    "slot__department",
    "visit_type",
    "waitlist_entry__appointment__campus",
    "waitlist_entry__appointment__practitioner",
)


class JoinWaitlistForm(forms.Form):
    """What earlier times would suit: another clinician, and the first possible day."""

    any_clinician = forms.BooleanField(
        label=gettext_lazy("Any clinician in the same department at this campus will do"),
        required=False,
    )
    earliest_date = forms.DateField(
        label=gettext_lazy("Not before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Optional. The first day you could come, as YYYY-MM-DD."),
        error_messages={"invalid": gettext_lazy("Enter a date as YYYY-MM-DD, for example 2026-03-04.")},
    )

    def __init__(self, *args: Any, appointment: Appointment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.appointment = appointment

    def clean_earliest_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("earliest_date")
        if day is None:
            return None
        campus = self.appointment.campus
        today = campus_time.local(timezone.now(), campus).date()
        if day < today:
            raise forms.ValidationError(_("Choose today or a later date."))
        if day >= campus_time.local(self.appointment.starts_at, campus).date():
            raise forms.ValidationError(_("Choose a date before the appointment you already have."))
        return day


@require_http_methods(["GET", "HEAD"])
@patient_page(scope=Scope.SCHEDULE)
def waitlist_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The patient's requests for earlier times, and the offers waiting for an answer."""
    entries = list(
        WaitlistEntry.objects.filter(patient=access.patient)
        .select_related("appointment__visit_type", "appointment__practitioner", "appointment__campus")
        .order_by("-created_at", "-id")[:ENTRIES_SHOWN]
    )
    offers = list(
        SlotOffer.objects.filter(
            patient=access.patient,
            kind=SlotOffer.Kind.WAITLIST,
            status=SlotOffer.Status.OPEN,
            expires_at__gt=timezone.now(),
        ).select_related(*OFFER_RELATED)
    )
    record_read(request, access, "waitlist.list_view")
    return render(
        request, "scheduling/waitlist/list.html", {"access": access, "entries": entries, "offers": offers}
    )


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(scope=None)
def join(request: HttpRequest, access: PatientAccess, appointment_id: int) -> HttpResponse:
    """Ask to be moved earlier if a matching time opens."""
    appointment, access = require_appointment(request, appointment_id, manage=True)
    existing = waitlist.active_entry(appointment)
    can_join = existing is None and waitlist.may_join(appointment)
    form = JoinWaitlistForm(request.POST or None, appointment=appointment)
    if request.method == "POST" and can_join and form.is_valid():
        try:
            waitlist.do_join_waitlist(
                Actor.from_request(request),
                access,
                appointment,
                any_clinician=form.cleaned_data["any_clinician"],
                earliest_date=form.cleaned_data["earliest_date"],
            )
        except waitlist.WaitlistRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                _("You are on the waiting list. If an earlier time opens, we will tell you at once."),
            )
            return redirect("waitlist:list")
    record_read(request, access, "waitlist.join_form", obj=appointment)
    context = {"access": access, "appointment": appointment, "form": form, "existing": existing}
    status = 409 if request.method == "POST" and not can_join else 200
    return render(request, "scheduling/waitlist/join.html", {**context, "can_join": can_join}, status=status)


@require_POST
@patient_page(scope=None)
def leave(request: HttpRequest, access: PatientAccess, entry_id: int) -> HttpResponse:
    entry, access = require_patient_object(request, WaitlistEntry.objects.all(), entry_id)
    try:
        waitlist.do_leave_waitlist(Actor.from_request(request), access, entry)
    except waitlist.WaitlistRefused as refusal:
        messages.warning(request, refusal.message)
    else:
        messages.success(request, _("You are no longer waiting for an earlier time for that appointment."))
    return redirect("waitlist:list")


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(scope=None)
def offer(request: HttpRequest, access: PatientAccess, offer_id: int) -> HttpResponse:
    """An earlier time: the old and new times side by side, accept or decline."""
    queryset = SlotOffer.objects.filter(kind=SlotOffer.Kind.WAITLIST).select_related(*OFFER_RELATED)
    slot_offer, access = require_patient_object(request, queryset, offer_id)
    problem = ""
    if request.method == "POST":
        answer = request.POST.get("answer")
        actor = Actor.from_request(request)
        try:
            if answer == "accept":
                moved = waitlist.do_accept_waitlist_offer(actor, access, slot_offer)
                messages.success(request, _("Your appointment was moved to the earlier time."))
                return redirect("appointments:detail", appointment_id=moved.pk)
            if answer == "decline":
                waitlist.do_decline_waitlist_offer(actor, access, slot_offer)
                messages.success(
                    request,
                    _("You declined that time. Your appointment stays as it was, and you are still waiting."),
                )
                return redirect("waitlist:list")
        except waitlist.WaitlistRefused as refusal:
            problem = refusal.message
            slot_offer.refresh_from_db(fields=["status", "responded_at"])
        else:
            raise BadRequest("unknown answer")
    record_read(request, access, "waitlist.offer_view", obj=slot_offer)
    context = {
        "access": access,
        "offer": slot_offer,
        "old": slot_offer.waitlist_entry.appointment if slot_offer.waitlist_entry else None,
        "is_open": waitlist.offer_is_open(slot_offer),
        "problem": problem,
    }
    return render(request, "scheduling/waitlist/offer.html", context, status=409 if problem else 200)
