"""DiagnosticReport: the patient's released result reports (labs, imaging, pathology...)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Prefetch

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, drop_hidden_visit, patient_time, with_visit
from portal.fhir.mapping.results import report_out
from portal.records.access import visible_observations, visible_reports
from portal.records.models import ResultReport

PROFILES = (
    codes.US_CORE + "us-core-diagnosticreport-lab",
    codes.US_CORE + "us-core-diagnosticreport-note",
)
CATEGORIES = {
    codes.V2_0074: {code: [category] for category, code in codes.SECTION_BY_REPORT_CATEGORY.items()},
    codes.LOINC: {code: [category] for category, (code, _name) in codes.LOINC_REPORT_CATEGORY.items()},
}


def rows(grant: ApiGrant) -> models.QuerySet[ResultReport]:
    """Released reports (hold and review rules, confidential categories), with their visible values."""
    values = visible_observations(grant.access).order_by("position", "id").only("id", "report_id")
    return with_visit(visible_reports(grant.access)).prefetch_related(
        Prefetch("observations", queryset=values, to_attr="api_results")
    )


def to_fhir(row: ResultReport, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = report_out(row, getattr(row, "api_results", []), api_out(grant))  # type: ignore[arg-type]
    return drop_hidden_visit(resource, row, grant)


DIAGNOSTIC_REPORT = registry.register(
    registry.ResourceType(
        name="DiagnosticReport",
        profiles=PROFILES,
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="resultreport",
        default_order=("-effective_at", "-id"),
        sorts={"date": ("effective_at", "id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "category": registry.SearchParam(
                "category",
                "token",
                search.choice_token("category", CATEGORIES),
                "v2-0074 section (LAB, RAD, PAT...) or US Core's LOINC category",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-diagnosticreport-category",
            ),
            "code": registry.SearchParam(
                "code",
                "token",
                search.code_token("code", systems=[codes.LOINC]),
                "LOINC code of the report",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-diagnosticreport-code",
            ),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("effective_at", is_datetime=True),
                "when the specimen was collected or the study performed",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-diagnosticreport-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {"": search.same_codes(ResultReport.Status.values)}),
                "registered | partial | preliminary | final | corrected | cancelled ...",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-diagnosticreport-status",
            ),
        },
    )
)
