"""Observation: lab values (category laboratory) and vital signs (vital-signs), as US Core profiles.

Rows come from `records.access.visible_observations`: a lab value appears once its report
is released to the patient, and an adolescent's confidential categories stay hidden from
a parent, exactly as on the results pages.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import ApiOut
from portal.fhir.api.search import date_param, reference_param, token_param
from portal.fhir.mapping.results import observation_out
from portal.records.access import visible_observations
from portal.records.models import Observation

OBSERVATION_STATUS = "http://hl7.org/fhir/observation-status"
PROFILES = tuple(
    codes.US_CORE + name
    for name in ("us-core-observation-lab", "us-core-vital-signs", "us-core-observation-clinical-result")
)


def rows(grant: ApiGrant) -> models.QuerySet[Observation]:
    return visible_observations(grant.access)


def to_fhir(row: Observation, grant: ApiGrant) -> dict[str, Any]:
    return observation_out(row, ApiOut.for_patient(row.patient_id))  # type: ignore[arg-type]


OBSERVATION = registry.register(
    registry.ResourceType(
        name="Observation",
        profiles=PROFILES,
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="observation",
        default_order=("-effective_at", "-id"),
        sorts={"date": ("effective_at",)},
        includes=("Observation:patient",),
        include_targets={"Observation:patient": ("Patient", lambda row: row.patient_id)},
        search_params={
            "patient": registry.SearchParam(
                "patient",
                "reference",
                reference_param("patient_id", "Patient", "patient"),
                "The patient (Patient/<id>)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-observation-patient",
            ),
            "category": registry.SearchParam(
                "category",
                "token",
                token_param("category", codes.OBSERVATION_CATEGORY),
                "laboratory | vital-signs | imaging | other",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-observation-category",
            ),
            "code": registry.SearchParam(
                "code",
                "token",
                token_param("code", codes.LOINC),
                "LOINC code (http://loinc.org|<code>)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-observation-code",
            ),
            "date": registry.SearchParam(
                "date",
                "date",
                date_param("effective_at"),
                "When the value was collected or measured, with prefixes",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-observation-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                token_param("status", OBSERVATION_STATUS),
                "registered | preliminary | final | amended | corrected | cancelled",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-observation-status",
            ),
        },
    )
)
