"""The rest of the record on the patient side: notes, medications, allergies, immunizations,
problems, visits, procedures and documents.

Rows come only from `records/access.py` (`visible`), so another patient's rows and an
adolescent's confidential care hidden from a parent get the audited 404 of a missing
row. Long lists are keyset pages; lists that stay short in real life (what is active
now) are capped instead, and say so if the cap is reached.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.db import models
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify

from portal.lib.paging import keyset_page
from portal.messaging.refill_status import attach_refill_states
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.access import get_visible, visible, visible_reports
from portal.records.listing import dated_page
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Correction,
    Document,
    Encounter,
    Immunization,
    Medication,
    Problem,
    Procedure,
)

PER_PAGE = 20
# What is active now is a short list for any real patient; the cap only guards the page.
ACTIVE_CAP = 100


def _capped(queryset: models.QuerySet[models.Model]) -> tuple[list[models.Model], bool]:
    rows = list(queryset[: ACTIVE_CAP + 1])
    return rows[:ACTIVE_CAP], len(rows) > ACTIVE_CAP


# Notes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteVersion:
    """An earlier version of a note, kept when the clinic corrected it."""

    corrected_at: dt.datetime
    title: str
    body: str
    reason: str


@patient_page(scope=Scope.VIEW)
def notes(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _dated_list(
        request,
        access,
        visible(ClinicalNote, access),
        "written_at",
        "records.notes_view",
        "records/notes.html",
    )


@patient_page(scope=Scope.VIEW)
def note(request: HttpRequest, access: PatientAccess, note_id: int) -> HttpResponse:
    item = get_visible(request, visible(ClinicalNote, access).select_related("encounter"), access, note_id)
    corrections = Correction.objects.filter(
        patient=access.patient, item_type="records.clinicalnote", item_id=item.pk
    ).order_by("-corrected_at", "-id")
    versions = [
        NoteVersion(
            correction.corrected_at,
            str(correction.previous.get("title", "")) if isinstance(correction.previous, dict) else "",
            str(correction.previous.get("body", "")) if isinstance(correction.previous, dict) else "",
            correction.reason,
        )
        for correction in corrections
    ]
    record_read(request, access, "records.note_view", obj=item)
    # The note's visit may be one this reader may not see (an adolescent's confidential care).
    visit = visible(Encounter, access).filter(pk=item.encounter_id).first() if item.encounter_id else None
    context = {"access": access, "note": item, "visit": visit, "versions": versions}
    return render(request, "records/note.html", context)


# Medications, allergies, problems ------------------------------------------------------------


@patient_page(scope=Scope.VIEW)
def medications(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Medication, access)
    active, more = _capped(rows.filter(status__in=_ACTIVE_MEDICATION).order_by("name", "id"))
    attach_refill_states(active, access)  # one query, however many medications
    past = keyset_page(rows.exclude(status__in=_ACTIVE_MEDICATION), request.GET.get("after"), PER_PAGE)
    record_read(request, access, "records.medications_view")
    context = {
        "access": access,
        "active": active,
        "more_active": more,
        "page": past,
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "records/medications.html", context)


_ACTIVE_MEDICATION = [Medication.Status.ACTIVE, Medication.Status.ON_HOLD]
_ACTIVE_PROBLEM = [Problem.Status.ACTIVE, Problem.Status.RECURRENCE]


@patient_page(scope=Scope.VIEW)
def allergies(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Allergy, access)
    active, more = _capped(rows.filter(status=Allergy.Status.ACTIVE).order_by("substance", "id"))
    past = dated_page(
        rows.exclude(status=Allergy.Status.ACTIVE), request.GET.get("after"), PER_PAGE, "recorded_on"
    )
    record_read(request, access, "records.allergies_view")
    context = {
        "access": access,
        "active": active,
        "more_active": more,
        "page": past,
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "records/allergies.html", context)


@patient_page(scope=Scope.VIEW)
def problems(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Problem, access)
    active, more = _capped(rows.filter(status__in=_ACTIVE_PROBLEM).order_by("name", "id"))
    past = dated_page(
        rows.exclude(status__in=_ACTIVE_PROBLEM), request.GET.get("after"), PER_PAGE, "recorded_on"
    )
    record_read(request, access, "records.problems_view")
    context = {
        "access": access,
        "active": active,
        "more_active": more,
        "page": past,
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "records/problems.html", context)


# Dated lists ---------------------------------------------------------------------------------


@patient_page(scope=Scope.VIEW)
def immunizations(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Immunization, access).select_related("campus")
    return _dated_list(
        request, access, rows, "given_on", "records.immunizations_view", "records/immunizations.html"
    )


@patient_page(scope=Scope.VIEW)
def procedures(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Procedure, access).select_related("campus")
    return _dated_list(
        request, access, rows, "performed_at", "records.procedures_view", "records/procedures.html"
    )


@patient_page(scope=Scope.VIEW)
def visits(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = visible(Encounter, access).select_related("campus", "department")
    return _dated_list(request, access, rows, "started_at", "records.visits_view", "records/visits.html")


@patient_page(scope=Scope.VIEW)
def visit(request: HttpRequest, access: PatientAccess, visit_id: int) -> HttpResponse:
    """A visit's summary, with what was done, written and found during it."""
    item = get_visible(
        request, visible(Encounter, access).select_related("campus", "department"), access, visit_id
    )
    record_read(request, access, "records.visit_view", obj=item)
    context = {
        "access": access,
        "visit": item,
        "diagnoses": _diagnoses(item.diagnoses),
        "procedures": list(visible(Procedure, access).filter(encounter=item)[:ACTIVE_CAP]),
        "notes": list(visible(ClinicalNote, access).filter(encounter=item)[:ACTIVE_CAP]),
        "reports": list(visible_reports(access).filter(encounter=item)[:ACTIVE_CAP]),
        "documents": list(visible(Document, access).filter(encounter=item)[:ACTIVE_CAP]),
    }
    return render(request, "records/visit.html", context)


def _diagnoses(value: object) -> list[dict[str, str]]:
    """The visit's diagnoses as name and code; anything malformed in the stored JSON is left out."""
    if not isinstance(value, list):
        return []
    rows = []
    for entry in value:
        if isinstance(entry, dict) and (entry.get("name") or entry.get("code")):
            rows.append({"name": str(entry.get("name") or ""), "code": str(entry.get("code") or "")})
    return rows


# Documents -----------------------------------------------------------------------------------


@patient_page(scope=Scope.VIEW)
def documents(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _dated_list(
        request,
        access,
        visible(Document, access),
        "dated_on",
        "records.documents_view",
        "records/documents.html",
    )


@patient_page(scope=Scope.VIEW)
def document(request: HttpRequest, access: PatientAccess, document_id: int) -> HttpResponse:
    """The file, always as a download: a stored file is never rendered inside the portal."""
    item = get_visible(request, visible(Document, access), access, document_id)
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, ValueError):
        refuse(request, access.patient, what="records.document", lookup=f"{document_id} (file missing)")
    record_read(request, access, "records.document_download", obj=item)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=_download_name(item),
        content_type=item.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response  # type: ignore[return-value]  # a streamed file; patient_page is typed for HttpResponse


def _download_name(item: Document) -> str:
    suffix = PurePath(item.file.name or "").suffix.lower()[:10]
    return f"{slugify(item.title) or 'document'}-{item.dated_on:%Y-%m-%d}{suffix}"


def _dated_list(
    request: HttpRequest,
    access: PatientAccess,
    rows: models.QuerySet[Any],
    date_field: str,
    action: str,
    template: str,
) -> HttpResponse:
    """A section listed newest first, a page at a time, its read audited."""
    page = dated_page(rows, request.GET.get("after"), PER_PAGE, date_field)
    record_read(request, access, action)
    context = {"access": access, "page": page, "paged": bool(request.GET.get("after"))}
    return render(request, template, context)
