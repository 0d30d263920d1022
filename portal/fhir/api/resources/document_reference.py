"""DocumentReference: the patient's clinical notes, their text served as `Binary/<id>`.

The note's text is not inlined: `content.attachment.url` names the Binary an app reads
(through the same access checks) when it wants the words.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, patient_time
from portal.fhir.mapping.documents import note_out
from portal.records.access import visible
from portal.records.models import ClinicalNote

STATUS_SYSTEM = "http://hl7.org/fhir/document-reference-status"
KINDS = list(ClinicalNote.Kind.values)
TYPES = {
    codes.LOINC: {loinc: [kind] for kind, (loinc, _name) in codes.LOINC_BY_NOTE_KIND.items()},
    codes.PORTAL_NOTE_KIND: search.same_codes(KINDS),
}
STATUSES = {
    "current": [ClinicalNote.Status.CURRENT, ClinicalNote.Status.AMENDED],
    "entered-in-error": [ClinicalNote.Status.ENTERED_IN_ERROR],
}


def rows(grant: ApiGrant) -> models.QuerySet[ClinicalNote]:
    return visible(ClinicalNote, grant.access)


def to_fhir(row: ClinicalNote, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = note_out(row, api_out(grant))  # type: ignore[arg-type]
    attachment = resource["content"][0]["attachment"]
    attachment.pop("data", None)
    attachment["contentType"] = "text/plain; charset=utf-8"
    attachment["url"] = f"Binary/clinicalnote-{row.pk}"
    resource["content"][0]["format"] = {
        "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
        "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
        "display": "mimeType Sufficient",
    }
    return resource


DOCUMENT_REFERENCE = registry.register(
    registry.ResourceType(
        name="DocumentReference",
        profiles=(codes.US_CORE + "us-core-documentreference",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="clinicalnote",
        default_order=("-written_at", "-id"),
        sorts={"date": ("written_at", "id"), "-date": ("-written_at", "-id")},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "category": registry.SearchParam(
                "category",
                "token",
                search.choice_token("kind", {codes.US_CORE_DOCUMENT_CATEGORY: {"clinical-note": KINDS}}),
                "clinical-note",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-category",
            ),
            "type": registry.SearchParam(
                "type",
                "token",
                search.choice_token("kind", TYPES),
                "LOINC document type (e.g. 11506-3 progress note)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-type",
            ),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("written_at", is_datetime=True),
                "when the note was written",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: STATUSES}),
                "current | entered-in-error",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-status",
            ),
        },
    )
)
