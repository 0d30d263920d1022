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
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from portal.fhir.mapping.clinical import condition_out, encounter_out, procedure_out
from portal.fhir.mapping.documents import document_out, note_out
from portal.fhir.mapping.medications import allergy_out, immunization_out, medication_out
from portal.fhir.mapping.outbound import Out, full_url
from portal.fhir.mapping.patients import patient_out
from portal.fhir.mapping.results import has_study, observation_out, report_out, study_out, study_url
from portal.patients.access import PatientAccess
from portal.records.access import visible, visible_observations, visible_reports
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
    ResultReport,
)
from portal.records.sections import SECTIONS

Entry = dict[str, Any]


@dataclass(frozen=True)
class Dates:
    start: dt.date | None
    end: dt.date | None

    def within(self, field_name: str, is_datetime: bool) -> Q:
        lookup = f"{field_name}__date" if is_datetime else field_name
        rule = Q()
        if self.start:
            rule &= Q(**{f"{lookup}__gte": self.start})
        if self.end:
            rule &= Q(**{f"{lookup}__lte": self.end})
        return rule

    def current(self, start: str, end: str) -> Q:
        rule = Q()
        if self.end:
            rule &= Q(**{f"{start}__isnull": True}) | Q(**{f"{start}__lte": self.end})
        if self.start:
            rule &= Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": self.start})
        return rule


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
    dates = Dates(date_from, date_to)
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


def _results(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    reports = (
        visible_reports(access)
        .exclude(category=ResultReport.Category.IMAGING)
        .filter(dates.within("effective_at", True))
    )
    standalone = Q(report__isnull=True) & dates.within("effective_at", True)
    return _reports(access, reports, standalone, out)


def _imaging(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    reports = (
        visible_reports(access)
        .filter(category=ResultReport.Category.IMAGING)
        .filter(dates.within("effective_at", True))
    )
    return _reports(access, reports, Q(pk__in=[]), out)


def _reports(access: PatientAccess, reports: Any, standalone: Q, out: Out) -> list[Entry]:
    observations = list(
        visible_observations(access)
        .filter(Q(report__in=reports.values("pk")) | standalone)
        .order_by("report_id", "position", "id")
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


def _notes(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    notes = (
        visible(ClinicalNote, access).filter(dates.within("written_at", True)).order_by("-written_at", "-id")
    )
    return _rows(out, notes, note_out)


def _medications(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    medications = (
        visible(Medication, access).filter(dates.current("started_on", "ended_on")).order_by("name", "id")
    )
    return _rows(out, medications, medication_out)


def _allergies(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    allergies = (
        visible(Allergy, access).filter(dates.within("recorded_on", False)).order_by("substance", "id")
    )
    return _rows(out, allergies, allergy_out)


def _immunizations(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    given = (
        visible(Immunization, access)
        .filter(dates.within("given_on", False))
        .select_related("campus")
        .order_by("-given_on", "-id")
    )
    return _rows(out, given, immunization_out)


def _problems(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    problems = visible(Problem, access).filter(dates.current("onset_on", "abated_on")).order_by("name", "id")
    return _rows(out, problems, condition_out)


def _visits(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    visits = (
        visible(Encounter, access)
        .filter(dates.within("started_at", True))
        .select_related("campus")
        .order_by("-started_at", "-id")
    )
    return _rows(out, visits, encounter_out)


def _procedures(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    procedures = (
        visible(Procedure, access)
        .filter(dates.within("performed_at", True))
        .select_related("campus")
        .order_by("-performed_at", "-id")
    )
    return _rows(out, procedures, procedure_out)


def _documents(access: PatientAccess, dates: Dates, out: Out) -> list[Entry]:
    documents = visible(Document, access).filter(dates.within("dated_on", False)).order_by("-dated_on", "-id")
    return _rows(out, documents, document_out)


BUILDERS: dict[str, Callable[[PatientAccess, Dates, Out], list[Entry]]] = {
    "results": _results,
    "imaging": _imaging,
    "notes": _notes,
    "medications": _medications,
    "allergies": _allergies,
    "immunizations": _immunizations,
    "problems": _problems,
    "visits": _visits,
    "procedures": _procedures,
    "documents": _documents,
}
