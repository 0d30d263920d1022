"""What a printout, PDF or share link of the record shows: chosen sections, a date range, plain rows.

`gather` reads through `records/access.py`, so release rules and an adolescent's
confidential categories apply exactly as on the record's own pages. It returns text
only (dates formatted, flags in words), which the print template, the PDF and the share
viewer lay out each in their own way. Every section costs a fixed number of queries,
however long the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.patients.access import PatientAccess
from portal.patients.models import Patient
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
from portal.records.ranges import DateRange, observations_in, reports_in, rows_in
from portal.records.sections import SECTIONS


@dataclass(frozen=True)
class Selection:
    """Which sections, between which dates (inclusive; None means unbounded)."""

    sections: tuple[str, ...]
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def of(cls, sections: Iterable[str], date_from: dt.date | None, date_to: dt.date | None) -> Selection:
        chosen = set(sections)
        # Always in the record's own order, whatever order they were ticked or stored in.
        return cls(tuple(slug for slug in SECTIONS if slug in chosen), date_from, date_to)

    @property
    def dates(self) -> DateRange:
        return DateRange(self.date_from, self.date_to)

    def whole_record(self, patient: Patient) -> bool:
        """Every section over the patient's whole life: dates from birth to today change nothing."""
        from_birth = self.date_from is None or self.date_from <= patient.birth_date
        to_today = self.date_to is None or self.date_to >= timezone.localdate()
        return set(self.sections) == set(SECTIONS) and from_birth and to_today

    def section_titles(self) -> list[str]:
        return [str(SECTIONS[slug]) for slug in self.sections]

    def describe_range(self) -> str:
        start = formats.date_format(self.date_from, "DATE_FORMAT") if self.date_from else ""
        end = formats.date_format(self.date_to, "DATE_FORMAT") if self.date_to else ""
        if start and end:
            return _("%(start)s to %(end)s") % {"start": start, "end": end}
        if start:
            return _("From %(start)s") % {"start": start}
        if end:
            return _("Up to %(end)s") % {"end": end}
        return _("All dates")

    def audit_detail(self) -> dict[str, Any]:
        return {
            "sections": list(self.sections),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }


@dataclass
class Block:
    """One piece of a section: an optional heading, label-value facts, then an optional table."""

    heading: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Section:
    """A section of the record as shown in a printout: its title and its blocks (none if empty)."""

    slug: str
    title: str
    blocks: list[Block]
    note: str = ""

    @property
    def row_count(self) -> int:
        return sum(max(len(block.rows), 1) for block in self.blocks)


@dataclass
class Export:
    """Everything a printout shows, for one patient and one selection."""

    patient_name: str
    clinic_number: str
    birth_date: str
    generated: str
    generated_on: dt.date
    selection: Selection
    sections: list[Section]

    @property
    def printed_lines(self) -> int:
        """Roughly how many lines a printout runs to: what a PDF of it costs to make."""
        return sum(
            2 + len(block.rows) + sum(1 + len(value) // 90 for _label, value in block.facts)
            for section in self.sections
            for block in section.blocks
        )


def gather(access: PatientAccess, selection: Selection) -> Export:
    """The rows `access` may see in the chosen sections and dates, in the patient's time zone."""
    patient = access.patient
    zone = ZoneInfo(patient.primary_campus.time_zone)
    with timezone.override(zone):
        sections = [_section(slug, access, selection) for slug in selection.sections]
        now = timezone.localtime()
    return Export(
        patient_name=patient.full_name,
        clinic_number=patient.clinic_number,
        birth_date=_day(patient.birth_date),
        generated=_when(now),
        generated_on=now.date(),
        selection=selection,
        sections=sections,
    )


def _section(slug: str, access: PatientAccess, selection: Selection) -> Section:
    blocks = BUILDERS[slug](access, selection)
    note = _("Files are not included: open them in the portal.") if slug == "documents" and blocks else ""
    return Section(slug=slug, title=str(SECTIONS[slug]), blocks=blocks, note=note)


# Formatting -------------------------------------------------------------------------------


def _day(value: dt.date | None) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else ""


def _when(value: dt.datetime | None) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else ""


def _date_of(value: dt.datetime | None) -> str:
    return _day(timezone.localtime(value).date()) if value else ""


def _flag(observation: Observation) -> str:
    if observation.interpretation == Observation.Interpretation.UNKNOWN:
        return ""
    return str(observation.get_interpretation_display())


def _facts(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    """Label-value pairs, leaving out empty values (a printout has no blanks to fill)."""
    return [(label, value) for label, value in pairs if value]


# Sections -----------------------------------------------------------------------------------


def _results(access: PatientAccess, selection: Selection) -> list[Block]:
    chosen = reports_in(access, selection.dates, imaging=False)
    reports = list(chosen.order_by("-effective_at", "-id"))
    observations = observations_in(access, chosen, selection.dates, standalone=True).order_by(
        "report_id", "position", "id"
    )
    by_report: dict[int | None, list[Observation]] = {}
    for observation in observations:
        by_report.setdefault(observation.report_id, []).append(observation)
    blocks = [_report_block(report, by_report.get(report.pk, [])) for report in reports]
    standalone = sorted(by_report.get(None, []), key=lambda row: row.effective_at, reverse=True)
    if standalone:
        blocks.append(
            Block(
                heading=_("Vital signs and other measurements"),
                columns=(_("Date"), _("Measurement"), _("Result"), _("Normal range"), _("Flag")),
                rows=[
                    (_date_of(row.effective_at), row.name, row.display_value, row.display_range, _flag(row))
                    for row in standalone
                ],
            )
        )
    return blocks


def _report_block(report: ResultReport, observations: list[Observation]) -> Block:
    return Block(
        heading=f"{report.name} — {_date_of(report.effective_at)}",
        facts=_facts(
            (_("Collected"), _when(report.effective_at)),
            (_("Reported"), _when(report.issued_at)),
            (_("Status"), str(report.get_status_display())),
            (_("Ordered by"), report.ordered_by_name),
            (_("Performed by"), report.performer),
            (_("Comment"), report.conclusion),
        ),
        columns=(_("Test"), _("Result"), _("Normal range"), _("Flag")) if observations else (),
        rows=[(row.name, row.display_value, row.display_range, _flag(row)) for row in observations],
    )


def _imaging(access: PatientAccess, selection: Selection) -> list[Block]:
    reports = reports_in(access, selection.dates, imaging=True).order_by("-effective_at", "-id")
    return [
        Block(
            heading=f"{report.name} — {_date_of(report.effective_at)}",
            facts=_facts(
                (_("Performed"), _when(report.effective_at)),
                (_("Status"), str(report.get_status_display())),
                (_("Body part"), report.body_site),
                (_("Modality"), report.modality),
                (_("Performed by"), report.performer),
                (_("Findings"), report.findings),
                (_("Impression"), report.impression),
                (_("Comment"), report.conclusion),
            ),
        )
        for report in reports
    ]


def _notes(access: PatientAccess, selection: Selection) -> list[Block]:
    # A note entered in error is void: handing it to another doctor would mislead.
    notes = (
        rows_in(access, ClinicalNote, selection.dates)
        .exclude(status=ClinicalNote.Status.ENTERED_IN_ERROR)
        .order_by("-written_at", "-id")
    )
    return [
        Block(
            heading=f"{note.title} — {_date_of(note.written_at)}",
            facts=_facts(
                (_("Type"), str(note.get_kind_display())),
                (_("Written"), _when(note.written_at)),
                (_("Author"), note.author_name),
                (_("Status"), str(note.get_status_display())),
                (_("Note"), note.body),
            ),
        )
        for note in notes
    ]


def _medications(access: PatientAccess, selection: Selection) -> list[Block]:
    medications = rows_in(access, Medication, selection.dates)
    rows = [
        (
            f"{medication.name} {medication.dose}".strip(),
            medication.instructions,
            str(medication.get_status_display()),
            _day(medication.started_on),
            _day(medication.ended_on),
            medication.prescriber_name,
        )
        for medication in medications.order_by("name", "id")
    ]
    columns = (_("Medication"), _("How to take"), _("Status"), _("Started"), _("Ended"), _("Prescriber"))
    return _table(columns, rows)


def _allergies(access: PatientAccess, selection: Selection) -> list[Block]:
    allergies = rows_in(access, Allergy, selection.dates)
    rows = [
        (
            allergy.substance,
            allergy.reaction,
            str(allergy.get_severity_display()) if allergy.severity else "",
            str(allergy.get_status_display()),
            _day(allergy.recorded_on),
        )
        for allergy in allergies.order_by("substance", "id")
    ]
    return _table((_("Allergic to"), _("Reaction"), _("Severity"), _("Status"), _("Recorded")), rows)


def _immunizations(access: PatientAccess, selection: Selection) -> list[Block]:
    given = rows_in(access, Immunization, selection.dates)
    rows = [
        (
            immunization.vaccine,
            _day(immunization.given_on),
            str(immunization.dose_number or ""),
            str(immunization.get_status_display()),
            immunization.performer_name,
        )
        for immunization in given.order_by("-given_on", "-id")
    ]
    return _table((_("Vaccine"), _("Date"), _("Dose"), _("Status"), _("Given by")), rows)


def _problems(access: PatientAccess, selection: Selection) -> list[Block]:
    problems = rows_in(access, Problem, selection.dates)
    rows = [
        (
            problem.name,
            str(problem.get_status_display()),
            _day(problem.onset_on),
            _day(problem.abated_on),
            _day(problem.recorded_on),
        )
        for problem in problems.order_by("status", "name", "id")
    ]
    return _table((_("Condition"), _("Status"), _("Started"), _("Resolved"), _("Recorded")), rows)


def _visits(access: PatientAccess, selection: Selection) -> list[Block]:
    visits = rows_in(access, Encounter, selection.dates)
    return [
        Block(
            heading=f"{visit.get_kind_display()} — {_date_of(visit.started_at)}",
            facts=_facts(
                (_("Date"), _when(visit.started_at)),
                (_("Status"), str(visit.get_status_display())),
                (_("Seen by"), visit.practitioner_name),
                (_("Reason for visit"), visit.reason),
                (_("What happened"), visit.summary),
                (_("Diagnoses"), _diagnoses(visit.diagnoses)),
                (_("Instructions"), visit.instructions),
                (_("Follow-up"), visit.follow_up),
            ),
        )
        for visit in visits.order_by("-started_at", "-id")
    ]


def _diagnoses(diagnoses: object) -> str:
    if not isinstance(diagnoses, list):
        return ""
    names = [
        str(entry.get("name") or entry.get("code") or "") for entry in diagnoses if isinstance(entry, dict)
    ]
    return "; ".join(name for name in names if name)


def _procedures(access: PatientAccess, selection: Selection) -> list[Block]:
    procedures = rows_in(access, Procedure, selection.dates)
    rows = [
        (
            procedure.name,
            _date_of(procedure.performed_at),
            str(procedure.get_status_display()),
            procedure.performer_name,
        )
        for procedure in procedures.order_by("-performed_at", "-id")
    ]
    return _table((_("Procedure"), _("Date"), _("Status"), _("Done by")), rows)


def _documents(access: PatientAccess, selection: Selection) -> list[Block]:
    documents = rows_in(access, Document, selection.dates)
    rows = [
        (document.title, _day(document.dated_on), str(document.get_kind_display()), document.description)
        for document in documents.order_by("-dated_on", "-id")
    ]
    return _table((_("Title"), _("Date"), _("Type"), _("Description")), rows)


def _table(columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[Block]:
    return [Block(columns=columns, rows=list(rows))] if rows else []


BUILDERS: dict[str, Callable[[PatientAccess, Selection], list[Block]]] = {
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
