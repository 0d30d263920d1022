"""The patient's record as a FHIR R4 `collection` Bundle, as one access may see it.

Rows come only through `records/access.py`, so release rules and an adolescent's
confidential categories apply exactly as on the record's pages. Sections are the slugs of
`records/sections.py`; dates (inclusive, in the patient's campus time zone) filter each
row by its main date, and medications and problems by whether they were current in the
range, as the printout does. Each section costs a fixed number of queries. Every row is
written with the same mapping modules the import reads, so the export imports back onto
the same rows (their source ids travel as identifiers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from portal.fhir.mapping.clinical import condition_out, encounter_out, procedure_out
from portal.fhir.mapping.documents import document_out, note_out
from portal.fhir.mapping.medications import allergy_out, immunization_out, medication_out
from portal.fhir.mapping.outbound import Out, full_url
from portal.fhir.mapping.patients import patient_out
from portal.fhir.mapping.results import has_study, observation_out, report_out, study_out, study_url
from portal.patients.access import PatientAccess
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    RecordItem,
    ResultReport,
)
from portal.records.ranges import DateRange, observations_in, reports_in, rows_in
from portal.records.sections import SECTIONS

Entry = dict[str, Any]


def patient_bundle(
    access: PatientAccess,
    sections: Iterable[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    """A JSON-ready FHIR R4 collection Bundle of the chosen sections of the record `access` may see."""
    chosen = set(SECTIONS) if sections is None else set(sections) & set(SECTIONS)
    patient = access.patient
    out = Out(patient_url=full_url(patient))
    entries = [_entry(out.patient_url, patient_out(patient))]
    dates = DateRange(date_from, date_to)
    # Visits first, so notes, results and procedures can refer to the visits in the bundle.
    ordered = sorted(chosen, key=lambda slug: (slug != "visits", list(SECTIONS).index(slug)))
    with timezone.override(ZoneInfo(patient.primary_campus.time_zone)):
        for slug in ordered:
            entries += BUILDERS[slug](access, dates, out)
        now = timezone.now()
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": now.isoformat()},
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": entries,
    }


def _entry(url: str, resource: dict[str, Any]) -> Entry:
    return {"fullUrl": url, "resource": resource}


def _rows(out: Out, rows: Iterable[Any], build: Callable[[Any, Out], dict[str, Any]]) -> list[Entry]:
    entries = []
    for row in rows:
        url = out.add(row)
        entries.append(_entry(url, build(row, out)))
    return entries


def _results(access: PatientAccess, dates: DateRange, out: Out) -> list[Entry]:
    return _reports(access, dates, out, imaging=False)


def _imaging(access: PatientAccess, dates: DateRange, out: Out) -> list[Entry]:
    return _reports(access, dates, out, imaging=True)


def _reports(access: PatientAccess, dates: DateRange, out: Out, imaging: bool) -> list[Entry]:
    reports = reports_in(access, dates, imaging)
    observations = list(
        observations_in(access, reports, dates, standalone=not imaging).order_by(
            "report_id", "position", "id"
        )
    )
    entries = _rows(out, observations, observation_out)
    by_report: dict[int | None, list[Observation]] = {}
    for observation in observations:
        by_report.setdefault(observation.report_id, []).append(observation)
    for report in reports.order_by("-effective_at", "-id"):
        url = out.add(report)
        if report.category == ResultReport.Category.IMAGING and has_study(report):
            out.included[("records.resultreport-study", report.pk)] = study_url(report)
            entries.append(_entry(study_url(report), study_out(report, out)))
        entries.append(_entry(url, report_out(report, by_report.get(report.pk, []), out)))
    return entries


def _section(
    model: type[RecordItem],
    order: tuple[str, ...],
    build: Callable[[Any, Out], dict[str, Any]],
    related: tuple[str, ...] = (),
) -> Callable[[PatientAccess, DateRange, Out], list[Entry]]:
    """A builder for a plain section: its rows in the range, in `order`, each mapped by `build`."""

    def builder(access: PatientAccess, dates: DateRange, out: Out) -> list[Entry]:
        rows = rows_in(access, model, dates).select_related(*related).order_by(*order)
        return _rows(out, rows, build)

    return builder


BUILDERS: dict[str, Callable[[PatientAccess, DateRange, Out], list[Entry]]] = {
    "results": _results,
    "imaging": _imaging,
    "notes": _section(ClinicalNote, ("-written_at", "-id"), note_out),
    "medications": _section(Medication, ("name", "id"), medication_out),
    "allergies": _section(Allergy, ("substance", "id"), allergy_out),
    "immunizations": _section(Immunization, ("-given_on", "-id"), immunization_out, ("campus",)),
    "problems": _section(Problem, ("name", "id"), condition_out),
    "visits": _section(Encounter, ("-started_at", "-id"), encounter_out, ("campus",)),
    "procedures": _section(Procedure, ("-performed_at", "-id"), procedure_out, ("campus",)),
    "documents": _section(Document, ("-dated_on", "-id"), document_out),
}
