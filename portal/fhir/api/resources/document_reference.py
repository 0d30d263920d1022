"""DocumentReference: the patient's clinical notes and the files in their record, as US Core.

Two parts served as one type: clinical notes (`clinicalnote-<pk>`, text) and stored
documents (`document-<pk>`: an outside record, a signed form, a scanned letter, a PDF or
an image). Neither inlines its content: `content.attachment.url` names the Binary an app
reads (through the same access checks) when it wants the words or the file. Both come
from `records.access.visible`, so an adolescent's confidential categories stay hidden from
a parent, and a row whose visit is hidden names no visit.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import (
    api_out,
    drop_hidden_visit,
    patient_time,
    practitioner_reference,
    visit_hidden,
    visit_period,
    with_visit,
)
from portal.fhir.api.search import ServedType
from portal.fhir.mapping.documents import document_out, note_out
from portal.records.access import visible
from portal.records.models import ClinicalNote, Document

STATUS_SYSTEM = "http://hl7.org/fhir/document-reference-status"
FORMAT = {
    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "display": "mimeType Sufficient",
}
NOTE_KINDS = list(ClinicalNote.Kind.values)
NOTE_TYPES = {
    codes.LOINC: {loinc: [kind] for kind, (loinc, _name) in codes.LOINC_BY_NOTE_KIND.items()},
    codes.PORTAL_NOTE_KIND: search.same_codes(NOTE_KINDS),
}
NOTE_STATUSES = {
    "current": [ClinicalNote.Status.CURRENT, ClinicalNote.Status.AMENDED],
    "entered-in-error": [ClinicalNote.Status.ENTERED_IN_ERROR],
}
DOCUMENT_KINDS = list(Document.Kind.values)


def _document_types() -> dict[str, dict[str, list[str]]]:
    by_loinc: dict[str, list[str]] = {}
    for kind in DOCUMENT_KINDS:
        loinc, _name = codes.LOINC_BY_DOCUMENT_KIND.get(kind, codes.LOINC_BY_DOCUMENT_KIND["other"])
        by_loinc.setdefault(loinc, []).append(kind)
    return {codes.LOINC: by_loinc, codes.PORTAL_DOCUMENT_KIND: search.same_codes(DOCUMENT_KINDS)}


def _linked(
    resource: dict[str, Any], row: Any, grant: ApiGrant, url: str, content_type: str
) -> dict[str, Any]:
    """The resource with its content named by URL, its visit's period, and no hidden visit."""
    attachment = resource["content"][0]["attachment"]
    attachment.pop("data", None)
    attachment["contentType"] = content_type
    attachment["url"] = url
    resource["content"][0]["format"] = FORMAT
    if row.encounter_id is not None and not visit_hidden(row, grant):
        period = {key: value for key, value in visit_period(row).items() if value}
        if period:
            resource.setdefault("context", {})["period"] = period
    return drop_hidden_visit(resource, row, grant)


# Clinical notes ------------------------------------------------------------------------------


def note_rows(grant: ApiGrant) -> models.QuerySet[ClinicalNote]:
    return with_visit(visible(ClinicalNote, grant.access))


def note_to_fhir(row: ClinicalNote, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = note_out(row, api_out(grant))  # type: ignore[arg-type]
        resource = _linked(resource, row, grant, f"Binary/clinicalnote-{row.pk}", "text/plain; charset=utf-8")
    author = practitioner_reference(row.author_id, row.author_name)
    if author is not None:
        resource["author"] = [author]
    return resource


def _note_params() -> dict[str, registry.SearchParam]:
    return {
        "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
        "category": registry.SearchParam(
            "category",
            "token",
            search.choice_token("kind", {codes.US_CORE_DOCUMENT_CATEGORY: {"clinical-note": NOTE_KINDS}}),
            "clinical-note",
            "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-category",
        ),
        "type": registry.SearchParam(
            "type",
            "token",
            search.choice_token("kind", NOTE_TYPES),
            "LOINC document type (e.g. 11506-3 progress note, 51852-2 letter)",
            "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-type",
        ),
        "date": registry.SearchParam(
            "date",
            "date",
            search.date_param("written_at", is_datetime=True),
            "when the note was written, or the day of the document",
            "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-date",
        ),
        "status": registry.SearchParam(
            "status",
            "token",
            search.choice_token("status", {STATUS_SYSTEM: NOTE_STATUSES}),
            "current | entered-in-error",
            "http://hl7.org/fhir/us/core/SearchParameter/us-core-documentreference-status",
        ),
    }


# Stored documents ----------------------------------------------------------------------------


def document_rows(grant: ApiGrant) -> models.QuerySet[Document]:
    return with_visit(visible(Document, grant.access))


def document_to_fhir(row: Document, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = document_out(row, api_out(grant), inline=False)  # type: ignore[arg-type]
        return _linked(resource, row, grant, f"Binary/document-{row.pk}", row.content_type)


DOCUMENTS = registry.ResourceType(
    name="DocumentReference",
    profiles=(codes.US_CORE + "us-core-documentreference",),
    rows=document_rows,
    to_fhir=document_to_fhir,
    id_prefix="document",
    default_order=("-dated_on", "-id"),
    sorts={"date": ("dated_on", "id")},
    search_params={
        **_note_params(),
        "category": registry.SearchParam(
            "category",
            "token",
            search.choice_token("kind", {codes.US_CORE_DOCUMENT_CATEGORY: {"clinical-note": DOCUMENT_KINDS}}),
        ),
        "type": registry.SearchParam("type", "token", search.choice_token("kind", _document_types())),
        "date": registry.SearchParam("date", "date", search.date_param("dated_on", is_datetime=False)),
        # A stored document is always current: one entered in error is removed from the record.
        "status": registry.SearchParam("status", "token", search.constant_token(["current"], STATUS_SYSTEM)),
    },
)


DOCUMENT_REFERENCE = registry.register(
    ServedType(
        name="DocumentReference",
        profiles=(codes.US_CORE + "us-core-documentreference",),
        rows=note_rows,
        to_fhir=note_to_fhir,
        id_prefix="clinicalnote",
        default_order=("-written_at", "-id"),
        sorts={"date": ("written_at", "id")},
        includes=("DocumentReference:author",),
        include_targets={"DocumentReference:author": ("Practitioner", lambda row: row.author_id)},
        search_params=_note_params(),
        more=(DOCUMENTS,),
        documentation=(
            "Clinical notes (ids clinicalnote-*, text/plain) and the files in the record (ids document-*: "
            "PDF, PNG or JPEG). Each names its content as Binary/<same id> in content.attachment.url."
        ),
    )
)
