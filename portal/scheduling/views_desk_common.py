"""Loading what a scheduling-desk page names: a campus, a request, an appointment.

A desk worker reaches only their own campuses (`access.desk_campuses`); another
campus, or a request or visit at one, is the same 404 as a missing one. Patients come
through the access policy with the schedule scope, which every desk member has for
every patient. A member of staff who is the patient themself books through the patient
pages, so the desk refuses that access rather than act with the patient's own rights.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.organization.models import Campus
from portal.patients.access import PatientAccess
from portal.scheduling.access import desk_campuses, require_patient_object
from portal.scheduling.models import Appointment, AppointmentRequest


def my_campuses(request: HttpRequest) -> QuerySet[Campus]:
    """The user's desk campuses; a member of staff on no desk gets the ordinary 404."""
    campuses = desk_campuses(signed_in_user(request)).order_by("name", "pk")
    if not campuses.exists():
        raise Http404
    return campuses


def desk_campus(request: HttpRequest, campus_slug: str) -> Campus:
    return get_object_or_404(desk_campuses(signed_in_user(request)), slug=campus_slug)


def desk_request(request: HttpRequest, request_id: Any) -> tuple[AppointmentRequest, PatientAccess]:
    """A request to one of the user's campuses, with the desk's access to its patient."""
    requests = AppointmentRequest.objects.filter(
        campus__in=desk_campuses(signed_in_user(request))
    ).select_related(
        "campus", "department", "practitioner", "visit_type", "patient__primary_campus", "handled_by"
    )
    appointment_request, access = require_patient_object(request, requests, request_id, side="staff")
    return appointment_request, access


def desk_appointment(request: HttpRequest, appointment_id: Any) -> tuple[Appointment, PatientAccess]:
    """An appointment at one of the user's campuses, with the desk's access to its patient."""
    appointments = Appointment.objects.filter(
        campus__in=desk_campuses(signed_in_user(request))
    ).select_related("visit_type", "practitioner", "campus", "department")
    appointment, access = require_patient_object(request, appointments, appointment_id, side="staff")
    return appointment, access


def audit_list(request: HttpRequest, action: str, rows: list[Any], **detail: Any) -> None:
    """One audit event for a list page, naming every patient and row it showed."""
    record(
        Actor.from_request(request),
        action,
        kind=Kind.READ,
        role="staff",
        detail={
            "patients": sorted({row.patient_id for row in rows}),
            "rows": [row.pk for row in rows],
            **detail,
        },
    )
