"""Procedure: what was done to the patient."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, drop_hidden_visit, patient_time, with_visit
from portal.fhir.mapping.clinical import procedure_out
from portal.records.access import visible
from portal.records.models import Procedure

STATUS_SYSTEM = "http://hl7.org/fhir/event-status"


def rows(grant: ApiGrant) -> models.QuerySet[Procedure]:
    return with_visit(visible(Procedure, grant.access).select_related("campus"))


def to_fhir(row: Procedure, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = procedure_out(row, api_out(grant))  # type: ignore[arg-type]
    if row.campus_id and resource.get("location"):
        resource["location"]["reference"] = f"Location/campus-{row.campus_id}"
    return drop_hidden_visit(resource, row, grant)


PROCEDURE = registry.register(
    registry.ResourceType(
        name="Procedure",
        profiles=(codes.US_CORE + "us-core-procedure",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="procedure",
        default_order=("-performed_at", "-id"),
        sorts={"date": ("performed_at", "id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("performed_at", is_datetime=True),
                "when the procedure was done",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-procedure-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: search.same_codes(Procedure.Status.values)}),
                "completed | in-progress | not-done",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-procedure-status",
            ),
            "code": registry.SearchParam(
                "code",
                "token",
                search.code_token("code", system_field="code_system"),
                "SNOMED CT or CPT code",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-procedure-code",
            ),
        },
    )
)
