"""Appointment: the patient's booked, past and cancelled appointments."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import patient_reference
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import patient_time
from portal.fhir.mapping.common import clean, moment_text
from portal.scheduling.access import appointments_of, may_see_appointments
from portal.scheduling.models import Appointment

STATUS_SYSTEM = "http://hl7.org/fhir/appointmentstatus"


def rows(grant: ApiGrant) -> models.QuerySet[Appointment]:
    if not may_see_appointments(grant.access):
        return Appointment.objects.none()
    return appointments_of(grant.access)


def to_fhir(row: Appointment, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        start, end = moment_text(row.starts_at), moment_text(row.ends_at)
    return clean(
        {
            "resourceType": "Appointment",
            "id": f"appointment-{row.pk}",
            "status": row.status,
            "cancelationReason": {"text": row.cancel_reason} if row.cancel_reason else None,
            "serviceType": [{"text": row.visit_type.name}],
            "description": row.visit_type.name,
            "comment": row.reason,
            "start": start,
            "end": end,
            "participant": [
                {"actor": {"reference": patient_reference(grant.patient)}, "status": "accepted"},
                {
                    "actor": {
                        "reference": f"Practitioner/practitioner-{row.practitioner_id}",
                        "display": str(row.practitioner),
                    },
                    "status": "accepted",
                },
                {
                    "actor": {"reference": f"Location/campus-{row.campus_id}", "display": row.campus.name},
                    "status": "accepted",
                },
            ],
        }
    )


APPOINTMENT = registry.register(
    registry.ResourceType(
        name="Appointment",
        profiles=(),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="appointment",
        default_order=("-starts_at", "-id"),
        sorts={"date": ("starts_at", "id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: search.same_codes(Appointment.Status.values)}),
                "booked | arrived | fulfilled | cancelled | noshow",
            ),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("starts_at", is_datetime=True),
                "when the appointment starts",
            ),
        },
    )
)
