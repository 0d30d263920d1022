"""AllergyIntolerance: the patient's allergies."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, patient_time
from portal.fhir.mapping.medications import allergy_out
from portal.records.access import visible
from portal.records.models import Allergy


def rows(grant: ApiGrant) -> models.QuerySet[Allergy]:
    return visible(Allergy, grant.access)


def to_fhir(row: Allergy, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        return allergy_out(row, api_out(grant))  # type: ignore[arg-type]


ALLERGY_INTOLERANCE = registry.register(
    registry.ResourceType(
        name="AllergyIntolerance",
        profiles=(codes.US_CORE + "us-core-allergyintolerance",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="allergy",
        default_order=("substance", "id"),
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "clinical-status": registry.SearchParam(
                "clinical-status",
                "token",
                search.choice_token(
                    "status", {codes.ALLERGY_CLINICAL: search.same_codes(Allergy.Status.values)}
                ),
                "active | inactive | resolved",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-allergyintolerance-clinical-status",
            ),
        },
    )
)
