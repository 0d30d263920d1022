"""The patient's appointments: the list and one appointment."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.selection import patient_page
from portal.scheduling.access import appointments_of, may_see_appointments, require_appointment


@patient_page(scope=None)
def appointment_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not may_see_appointments(access):
        refuse(request, access.patient, what="scheduling.appointment", lookup="list")
    now = timezone.now()
    appointments = appointments_of(access)
    upcoming = list(appointments.filter(starts_at__gte=now, status="booked").order_by("starts_at")[:50])
    record_read(request, access, "appointment.list_view")
    return render(request, "scheduling/appointments/list.html", {"access": access, "upcoming": upcoming})


@patient_page(scope=None)
def appointment_detail(request: HttpRequest, access: PatientAccess, appointment_id: int) -> HttpResponse:
    appointment, access = require_appointment(request, appointment_id)
    record_read(request, access, "appointment.view", obj=appointment)
    return render(
        request, "scheduling/appointments/detail.html", {"access": access, "appointment": appointment}
    )
