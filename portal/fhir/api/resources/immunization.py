"""Immunization: the vaccines the patient was given (or was due and did not get)."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, location_reference, patient_time
from portal.fhir.mapping.medications import immunization_out
from portal.records.access import visible
from portal.records.models import Immunization

STATUS_SYSTEM = "http://hl7.org/fhir/event-status"


def rows(grant: ApiGrant) -> models.QuerySet[Immunization]:
    return visible(Immunization, grant.access).select_related("campus")


def to_fhir(row: Immunization, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = immunization_out(row, api_out(grant))  # type: ignore[arg-type]
    place = location_reference(row.campus_id, row.campus.name if row.campus else "")
    if place is not None:
        resource["location"] = place
    return resource


IMMUNIZATION = registry.register(
    registry.ResourceType(
        name="Immunization",
        profiles=(codes.US_CORE + "us-core-immunization",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="immunization",
        default_order=("-given_on", "-id"),
        sorts={"date": ("given_on", "id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("given_on", is_datetime=False),
                "the day the vaccine was given",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-immunization-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: search.same_codes(Immunization.Status.values)}),
                "completed | not-done",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-immunization-status",
            ),
        },
    )
)
