"""The demo's medical records: deterministic, complete, plausible, and the right shape for each person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from portal.lib.seeding import clinical_catalog as catalog
from portal.lib.seeding.body import flag_for
from portal.lib.seeding.bulk import insert_rows, new
from portal.lib.seeding.demo_records import DEMO_YEARS
from portal.lib.seeding.demo_users import create_demo_users
from portal.lib.seeding.lab_catalog import TESTS, TEXT_TESTS, VITALS
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import seed_patients
from portal.lib.seeding.records import RECORD_YEARS, seed_records
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.records import lab_guides
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Correction,
    Encounter,
    Immunization,
    LabTestGuide,
    Medication,
    Observation,
    Problem,
    Procedure,
    ResultReport,
    ResultSeen,
)

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
Flag = Observation.Interpretation
RECORD_MODELS = (Encounter, ResultReport, Observation, ClinicalNote, Medication, Allergy, Immunization,
                 Problem, Procedure)  # fmt: skip


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every record row's content, in insertion order, without ids or update stamps."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for model in RECORD_MODELS:
        names = [
            field.attname
            for field in model._meta.concrete_fields
            if field.attname not in ("id", "updated_at", "report_id", "encounter_id")
        ]
        if model is Observation:
            names += ["report__code", "report__effective_at"]
        rows[model.__name__] = list(model.objects.order_by("id").values_list(*names))
    return rows


def generated(count: int, seed: int = 3) -> list[Patient]:
    seed_organization()
    seed_patients(count, seed=seed, anchor=ANCHOR, record_years=0)
    return list(Patient.objects.order_by("id"))


def person(number: str, born: dt.date, sex: str = Patient.Sex.FEMALE) -> Patient:
    return Patient.objects.create(
        clinic_number=number,
        given_name="Test",
        family_name="Person",
        birth_date=born,
        sex_at_birth=sex,
        primary_campus=Campus.objects.get(slug="rochester"),
    )


def test_the_same_seed_makes_the_same_records() -> None:
    patients = generated(8)
    seed_records(patients, seed=5, anchor=ANCHOR, years=3)
    first = snapshot()
    for model in RECORD_MODELS:
        model.objects.all().delete()
    seed_records(patients, seed=5, anchor=ANCHOR, years=3)
    assert snapshot() == first
    assert sum(len(rows) for rows in first.values()) > 8 * 20


def test_another_seed_makes_another_history() -> None:
    patients = generated(4)
    seed_records(patients, seed=5, anchor=ANCHOR, years=3)
    first = snapshot()
    for model in RECORD_MODELS:
        model.objects.all().delete()
    seed_records(patients, seed=6, anchor=ANCHOR, years=3)
    assert snapshot()["Observation"] != first["Observation"]


def test_seeding_patients_gives_them_records_dated_before_the_anchor() -> None:
    seed_organization()
    report = seed_patients(12, seed=9, anchor=ANCHOR)
    assert report.record_rows == sum(model.objects.count() for model in RECORD_MODELS) + (
        Correction.objects.count() + ResultSeen.objects.count()
    )
    assert Encounter.objects.values("patient").distinct().count() == 12
    assert not Encounter.objects.filter(started_at__gt=ANCHOR).exists()
    assert not ResultReport.objects.filter(issued_at__gt=ANCHOR).exists()
    assert not Immunization.objects.filter(given_on__gt=ANCHOR.date()).exists()
    oldest = ANCHOR - dt.timedelta(days=round(365.25 * RECORD_YEARS) + 1)
    assert not Observation.objects.filter(effective_at__lt=oldest).exists()


def test_lab_values_are_plausible_and_flags_match_the_ranges() -> None:
    seed_records(generated(40, seed=11), seed=11, anchor=ANCHOR, years=3)
    labs = Observation.objects.filter(category=Observation.Category.LABORATORY).select_related("patient")
    assert labs.count() > 400
    flags = set()
    for row in labs:
        flags.add(row.interpretation)
        if row.value_number is None:
            text = TEXT_TESTS[row.code]
            assert row.value_text in (text.normal, *text.abnormal)
            assert row.interpretation == (Flag.NORMAL if row.value_text == text.normal else Flag.ABNORMAL)
            continue
        test = TESTS[row.code]
        low, high = test.bounds
        assert Decimal(str(low)) <= row.value_number <= Decimal(str(high)), row
        assert row.unit == test.unit
        assert_flag_matches_range(row)
        male = row.patient.sex_at_birth == Patient.Sex.MALE
        assert row.interpretation == flag_for(row.value_number, test, male)
    assert {Flag.NORMAL, Flag.HIGH, Flag.LOW} <= flags


def test_critical_values_stay_plausible_and_beyond_the_reference_range() -> None:
    for test in TESTS.values():
        critical_low, critical_high = test.critical
        for male in (False, True):
            low, high = test.reference(male)
            if critical_high is not None:
                assert high is not None and critical_high > high
                assert critical_high * 1.06 <= test.bounds[1], test
            if critical_low is not None:
                assert low is not None and critical_low < low
                assert critical_low * 0.92 >= test.bounds[0], test


def assert_flag_matches_range(row: Observation) -> None:
    value, low, high = row.value_number, row.range_low, row.range_high
    assert value is not None
    if row.interpretation in (Flag.HIGH, Flag.CRITICAL_HIGH):
        assert high is not None and value > high, row
    elif row.interpretation in (Flag.LOW, Flag.CRITICAL_LOW):
        assert low is not None and value < low, row
    else:
        assert row.interpretation == Flag.NORMAL
        assert (low is None or value >= low) and (high is None or value <= high), row


def test_vital_signs_stand_alone_and_are_plausible() -> None:
    seed_records(generated(25, seed=12), seed=12, anchor=ANCHOR, years=2)
    vitals = Observation.objects.filter(category=Observation.Category.VITAL_SIGNS)
    assert vitals.exists()
    assert not vitals.filter(report__isnull=False).exists()
    limits = {
        "8480-6": (60, 220), "8462-4": (30, 140), "8867-4": (35, 200), "9279-1": (8, 60),
        "8310-5": (35, 41.5), "59408-5": (85, 100), "29463-7": (2, 250), "8302-2": (40, 215),
        "39156-5": (10, 60),
    }  # fmt: skip
    for row in vitals:
        low, high = limits[row.code]
        assert row.value_number is not None and low <= row.value_number <= high, row
        assert row.unit == VITALS[row.code].unit and row.interpretation == Flag.UNKNOWN


def test_medicines_follow_the_problems_they_treat() -> None:
    seed_records(generated(60, seed=13), seed=13, anchor=ANCHOR, years=2)
    treated = {"I10": {"Lisinopril", "Losartan"}, "E11.9": {"Metformin"}, "E78.5": {"Atorvastatin"}}
    problems = Problem.objects.filter(code__in=treated)
    assert problems.exists()
    for problem in problems:
        names = set(Medication.objects.filter(patient=problem.patient_id).values_list("name", flat=True))
        assert names & treated[problem.code], problem
    for medication in Medication.objects.filter(status=Medication.Status.ACTIVE):
        assert medication.ended_on is None or medication.ended_on >= ANCHOR.date()
    for medication in Medication.objects.exclude(not_renewable_reason=""):
        assert not medication.renewable_online


def test_problems_fit_the_age_they_began() -> None:
    seed_records(generated(60, seed=14), seed=14, anchor=ANCHOR, years=2)
    by_code = {condition.code: condition for condition in catalog.CONDITIONS.values()}
    problems = Problem.objects.filter(code__in=by_code).select_related("patient")
    assert problems.exists()
    for problem in problems:
        assert problem.onset_on is not None
        age = (problem.onset_on - problem.patient.birth_date).days / 365.25
        assert age >= by_code[problem.code].youngest - 0.01, problem


def test_a_child_gets_the_childhood_vaccine_schedule() -> None:
    seed_organization()
    child = person("10000100", ANCHOR.date() - dt.timedelta(days=round(8.4 * 365.25)))
    seed_records([child], seed=1, anchor=ANCHOR)
    given: dict[str, list[Immunization]] = {}
    for shot in Immunization.objects.filter(patient=child).order_by("given_on"):
        given.setdefault(shot.code, []).append(shot)
    doses = {code: len(shots) for code, shots in given.items()}
    assert doses["20"] == 5  # DTaP
    assert doses["03"] == 2  # MMR
    assert doses["10"] == 4  # IPV
    assert doses["08"] == 3  # hepatitis B
    assert doses["21"] == 2  # varicella
    assert "115" not in doses  # Tdap waits until 11
    assert [shot.dose_number for shot in given["20"]] == [1, 2, 3, 4, 5]
    assert given["08"][0].given_on - child.birth_date < dt.timedelta(days=30)  # at birth
    assert given["03"][0].given_on - child.birth_date >= dt.timedelta(days=365)  # MMR from 12 months
    assert all(shot.given_on >= child.birth_date for shots in given.values() for shot in shots)


def test_older_adults_get_their_vaccines_and_no_childhood_schedule() -> None:
    seed_organization()
    elders = [person(f"1000020{n}", ANCHOR.date() - dt.timedelta(days=365 * 70 + n)) for n in range(6)]
    seed_records(elders, seed=2, anchor=ANCHOR, years=10)
    codes = set(Immunization.objects.values_list("code", flat=True))
    assert not codes & {"20", "03", "08", "116"}
    assert {"197", "187", "216"} <= codes  # high-dose flu, shingles, pneumococcal


def test_sexual_health_screens_are_marked_confidential() -> None:
    seed_organization()
    young = [person(f"1000030{n}", ANCHOR.date() - dt.timedelta(days=365 * 17 + 40 * n)) for n in range(8)]
    seed_records(young, seed=4, anchor=ANCHOR, years=3)
    screens = ResultReport.objects.filter(code="21613-5")
    assert screens.exists()
    assert set(screens.values_list("sensitivity", flat=True)) == {catalog.SEXUAL_HEALTH}
    assert set(Observation.objects.filter(report__in=screens).values_list("sensitivity", flat=True)) == {
        catalog.SEXUAL_HEALTH
    }


def test_the_demo_sign_ins_get_every_kind_of_record() -> None:
    seed_organization()
    create_demo_users()
    jamie = Patient.objects.get(account__username="demo-patient")
    reports = ResultReport.objects.filter(patient=jamie)
    assert set(reports.values_list("category", flat=True)) >= {"lab", "imaging", "pathology", "cardiology"}
    assert set(reports.values_list("status", flat=True)) >= {"final", "preliminary", "corrected"}
    knee = reports.get(category="imaging")
    assert knee.findings and knee.impression and knee.modality == "MR"
    notes = set(ClinicalNote.objects.filter(patient=jamie).values_list("kind", flat=True))
    assert notes >= {"visit-note", "letter", "discharge-summary"}
    assert Encounter.objects.filter(patient=jamie, kind=Encounter.Kind.HOSPITAL).exists()
    assert Observation.objects.filter(patient=jamie, report=None, category="vital-signs").exists()
    assert Allergy.objects.filter(patient=jamie).exists()
    assert Immunization.objects.filter(patient=jamie).exists()
    assert Problem.objects.filter(patient=jamie, code="I10").exists()
    assert Procedure.objects.filter(patient=jamie).exists()
    controlled = Medication.objects.get(patient=jamie, name="Tramadol")
    assert not controlled.renewable_online and controlled.not_renewable_reason
    assert Medication.objects.filter(patient=jamie, name="Lisinopril").exists()
    first_seen = Encounter.objects.filter(patient=jamie).order_by("started_at").first()
    assert first_seen is not None
    assert first_seen.started_at.date() < timezone.now().date() - dt.timedelta(days=365 * (DEMO_YEARS - 1))
    walter = Patient.objects.get(given_name="Walter", family_name="Brooks")
    assert ResultReport.objects.filter(
        patient=walter, code="36643-5", impression__icontains="pneumonia"
    ).exists()


def test_demo_patient_has_a_new_abnormal_result_a_held_one_and_a_corrected_value() -> None:
    seed_organization()
    create_demo_users()
    jamie = Patient.objects.get(account__username="demo-patient")
    now = timezone.now()
    seen = ResultSeen.objects.filter(user=jamie.account).values_list("report_id", flat=True)
    new = ResultReport.objects.filter(patient=jamie, available_at__lte=now).exclude(pk__in=seen)
    recent = new.filter(effective_at__gte=now - dt.timedelta(days=7))
    assert Observation.objects.filter(report__in=recent, interpretation=Flag.HIGH).exists()
    assert ResultSeen.objects.filter(user=jamie.account).exists()  # older ones were opened
    held = ResultReport.objects.get(patient=jamie, available_at__gt=now)
    assert held.hold_reason
    correction = Correction.objects.get(patient=jamie)
    corrected = Observation.objects.get(pk=correction.item_id)
    assert corrected.status == Observation.Status.CORRECTED and corrected.code == "718-7"
    assert corrected.report is not None and corrected.report.status == ResultReport.Status.CORRECTED
    assert correction.previous["value_number"] == "1.37" and correction.previous["interpretation"] == "LL"
    assert corrected.value_number == Decimal("13.7")


def test_demo_child_is_on_the_childhood_schedule() -> None:
    seed_organization()
    create_demo_users()
    mia = Patient.objects.get(given_name="Mia", family_name="Brooks")
    codes = list(Immunization.objects.filter(patient=mia).values_list("code", flat=True))
    assert codes.count("20") == 5 and codes.count("03") == 2
    assert Problem.objects.filter(patient=mia, code="J45.909").exists()
    assert not Problem.objects.filter(patient=mia, code="I10").exists()


def test_refreshing_the_demo_adds_no_records_twice() -> None:
    seed_organization()
    create_demo_users()
    counts = [model.objects.count() for model in (*RECORD_MODELS, Correction, ResultSeen)]
    create_demo_users()
    assert [model.objects.count() for model in (*RECORD_MODELS, Correction, ResultSeen)] == counts


def test_the_lean_bulk_insert_stores_what_bulk_create_would() -> None:
    seed_organization()
    patient = person("10000400", dt.date(1980, 1, 1))
    report = new(ResultReport, patient_id=patient.pk, name="Panel", effective_at=ANCHOR, issued_at=ANCHOR)
    ResultReport.objects.bulk_create([report])
    values = {
        "patient_id": patient.pk, "report": report, "code": "2345-7", "name": "Glucose",
        "value_number": Decimal("101.5"), "unit": "mg/dL", "range_low": Decimal("70"),
        "range_high": Decimal("99"), "interpretation": Flag.HIGH, "effective_at": ANCHOR, "position": 3,
    }  # fmt: skip
    Observation.objects.bulk_create([Observation(**values)])
    insert_rows(Observation, [new(Observation, **values)])
    fields = [
        f.attname
        for f in Observation._meta.concrete_fields
        if f.attname not in ("id", "created_at", "updated_at")
    ]
    first, second = Observation.objects.order_by("id").values_list(*fields)
    assert first == second
    assert dict(zip(fields, second, strict=True))["report_id"] == report.pk


def test_the_migration_loaded_the_lab_test_guides() -> None:
    stored = set(LabTestGuide.objects.values_list("code", "name", "description"))
    assert stored == {tuple(guide) for guide in lab_guides.GUIDES}
    assert len(stored) >= 40
    codes = {code for code, _name, _description in stored}
    # Every test the demo orders has a plain-language guide.
    assert set(TESTS) | set(TEXT_TESTS) | set(VITALS) <= codes
