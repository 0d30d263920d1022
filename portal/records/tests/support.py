"""Record rows for tests: a lab panel, a note, a medication and friends, with sensible defaults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from portal.patients.models import Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    ResultReport,
)


def days_ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def make_panel(
    patient: Patient,
    name: str = "Basic metabolic panel",
    *,
    when: dt.datetime | None = None,
    values: list[tuple[str, str, str, str, str, str]] | None = None,
    **fields: Any,
) -> ResultReport:
    """A lab report with observations given as (code, name, value, unit, low, high)."""
    when = when or days_ago(3)
    report = ResultReport.objects.create(
        patient=patient,
        name=name,
        code=fields.pop("code", "51990-0"),
        effective_at=when,
        issued_at=fields.pop("issued_at", when + dt.timedelta(hours=6)),
        ordered_by_name=fields.pop("ordered_by_name", "Carol Staff, MD"),
        performer=fields.pop("performer", "Rochester Central Laboratory"),
        **fields,
    )
    rows = values or [
        ("2345-7", "Glucose", "98", "mg/dL", "70", "99"),
        ("2951-2", "Sodium", "141", "mmol/L", "135", "145"),
        ("2823-3", "Potassium", "5.4", "mmol/L", "3.5", "5.1"),
    ]
    for position, (code, test, value, unit, low, high) in enumerate(rows):
        number = Decimal(value)
        flag = Observation.Interpretation.NORMAL
        if number < Decimal(low):
            flag = Observation.Interpretation.LOW
        elif number > Decimal(high):
            flag = Observation.Interpretation.HIGH
        Observation.objects.create(
            patient=patient,
            report=report,
            code=code,
            name=test,
            value_number=number,
            unit=unit,
            range_low=Decimal(low),
            range_high=Decimal(high),
            interpretation=flag,
            status=report.status,
            effective_at=when,
            position=position,
            sensitivity=report.sensitivity,
        )
    return report


def make_note(patient: Patient, title: str = "Visit note", **fields: Any) -> ClinicalNote:
    return ClinicalNote.objects.create(
        patient=patient,
        title=title,
        written_at=fields.pop("written_at", days_ago(10)),
        author_name=fields.pop("author_name", "Carol Staff, MD"),
        body=fields.pop("body", "Seen for a follow-up. Blood pressure well controlled."),
        **fields,
    )


def make_medication(patient: Patient, name: str = "Lisinopril", **fields: Any) -> Medication:
    return Medication.objects.create(
        patient=patient,
        name=name,
        dose=fields.pop("dose", "10 mg tablet"),
        instructions=fields.pop("instructions", "Take 1 tablet by mouth once a day"),
        prescriber_name=fields.pop("prescriber_name", "Carol Staff, MD"),
        started_on=fields.pop("started_on", dt.date(2023, 3, 1)),
        last_filled_on=fields.pop("last_filled_on", dt.date(2026, 10, 1)),
        **fields,
    )


def make_allergy(patient: Patient, substance: str = "Penicillin", **fields: Any) -> Allergy:
    return Allergy.objects.create(
        patient=patient,
        substance=substance,
        category=fields.pop("category", Allergy.Category.MEDICATION),
        reaction=fields.pop("reaction", "Hives"),
        severity=fields.pop("severity", Allergy.Severity.MODERATE),
        recorded_on=fields.pop("recorded_on", dt.date(2019, 6, 1)),
        **fields,
    )


def make_immunization(patient: Patient, vaccine: str = "Influenza, seasonal", **fields: Any) -> Immunization:
    return Immunization.objects.create(
        patient=patient,
        vaccine=vaccine,
        code=fields.pop("code", "150"),
        given_on=fields.pop("given_on", dt.date(2025, 10, 15)),
        **fields,
    )


def make_problem(patient: Patient, name: str = "Essential hypertension", **fields: Any) -> Problem:
    return Problem.objects.create(
        patient=patient,
        name=name,
        code=fields.pop("code", "I10"),
        code_system=fields.pop("code_system", "http://hl7.org/fhir/sid/icd-10-cm"),
        recorded_on=fields.pop("recorded_on", dt.date(2021, 2, 3)),
        **fields,
    )


def make_visit(patient: Patient, **fields: Any) -> Encounter:
    return Encounter.objects.create(
        patient=patient,
        started_at=fields.pop("started_at", days_ago(10)),
        practitioner_name=fields.pop("practitioner_name", "Carol Staff, MD"),
        reason=fields.pop("reason", "Blood pressure follow-up"),
        summary=fields.pop("summary", "Blood pressure checked and medication reviewed."),
        diagnoses=fields.pop("diagnoses", [{"code": "I10", "name": "Essential hypertension"}]),
        instructions=fields.pop("instructions", "Keep taking lisinopril. Check blood pressure at home."),
        follow_up=fields.pop("follow_up", "Return in 6 months."),
        **fields,
    )
