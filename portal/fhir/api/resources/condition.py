"""Condition: the patient's problem list, visit diagnoses and health concerns."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, patient_time
from portal.fhir.mapping.clinical import condition_out
from portal.records.access import visible
from portal.records.models import Problem

CATEGORIES = search.same_codes(Problem.Category.values)


def rows(grant: ApiGrant) -> models.QuerySet[Problem]:
    return visible(Problem, grant.access)


def to_fhir(row: Problem, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        return condition_out(row, api_out(grant))  # type: ignore[arg-type]


CONDITION = registry.register(
    registry.ResourceType(
        name="Condition",
        profiles=(
            codes.US_CORE + "us-core-condition-problems-health-concerns",
            codes.US_CORE + "us-core-condition-encounter-diagnosis",
        ),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="problem",
        default_order=("name", "id"),
        sorts={"recorded-date": ("recorded_on", "id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "category": registry.SearchParam(
                "category",
                "token",
                search.choice_token(
                    "category",
                    {codes.CONDITION_CATEGORY: CATEGORIES, codes.US_CORE_CONDITION_CATEGORY: CATEGORIES},
                ),
                "problem-list-item | encounter-diagnosis | health-concern",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-condition-category",
            ),
            "clinical-status": registry.SearchParam(
                "clinical-status",
                "token",
                search.choice_token(
                    "status", {codes.CONDITION_CLINICAL: search.same_codes(Problem.Status.values)}
                ),
                "active | recurrence | inactive | resolved",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-condition-clinical-status",
            ),
            "code": registry.SearchParam(
                "code",
                "token",
                search.code_token("code", system_field="code_system"),
                "ICD-10-CM or SNOMED CT code",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-condition-code",
            ),
            "onset-date": registry.SearchParam(
                "onset-date",
                "date",
                search.date_param("onset_on", is_datetime=False),
                "when the condition started",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-condition-onset-date",
            ),
            "recorded-date": registry.SearchParam(
                "recorded-date",
                "date",
                search.date_param("recorded_on", is_datetime=False),
                "when the condition was recorded",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-condition-recorded-date",
            ),
        },
    )
)
