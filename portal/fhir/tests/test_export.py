"""The FHIR export: a valid R4 collection bundle of what the access may see, which imports back unchanged."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import models
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from portal.fhir.export import patient_bundle
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import access_of, alice_bundle, row_counts
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
from portal.records.tests.support import make_note, make_panel
from portal.test import World, query_count

MODELS: tuple[type[models.Model], ...] = (
    Encounter,
    ResultReport,
    Observation,
    ClinicalNote,
    Procedure,
    Document,
    Medication,
    Allergy,
    Immunization,
    Problem,
)
# Portal state, not record content: when a row was made, and when a result was released.
NOT_CONTENT = {"id", "created_at", "updated_at", "available_at", "hold_reason", "released_by", "file"}


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def record_of(patient: Patient) -> dict[str, list[dict[str, Any]]]:
    """Every record row of the patient, with links named by the linked row's source id."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for model in MODELS:
        rows = []
        for row in model._default_manager.filter(patient=patient).order_by("source_id"):
            values: dict[str, Any] = {}
            for field in model._meta.concrete_fields:
                if field.name in NOT_CONTENT:
                    continue
                value = getattr(row, field.name)
                values[field.name] = (
                    value.source_id if field.name in ("report", "encounter") and value else value
                )
            values["patient"] = patient.clinic_number
            rows.append(values)
        snapshot[model.__name__] = rows
    return snapshot


def wipe(patient: Patient) -> None:
    for model in MODELS:
        model._default_manager.filter(patient=patient).delete()


def test_the_export_is_a_valid_r4_bundle(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    bundle = patient_bundle(access_of(world.alice_user, world.alice))
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = sorted({entry.resource.get_resource_type() for entry in parsed.entry or [] if entry.resource})
    assert kinds == [
        "AllergyIntolerance",
        "Condition",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "ImagingStudy",
        "Immunization",
        "MedicationRequest",
        "Observation",
        "Patient",
        "Procedure",
    ]
    json.dumps(bundle)  # JSON-ready as it is
    patient = resources(bundle, "Patient")[0]
    assert patient["identifier"][0]["system"] == "urn:portal:clinic-number"
    assert patient["identifier"][0]["value"] == "10000001"
    assert all(
        resource["meta"]["profile"][0].startswith("http://hl7.org/fhir/us/core/")
        for resource in (entry["resource"] for entry in bundle["entry"])
        if resource["resourceType"] != "ImagingStudy"
    )


def test_codes_carry_their_systems(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    bundle = patient_bundle(access_of(world.alice_user, world.alice))
    systems = {
        resource["resourceType"]: {coding.get("system") for coding in resource[key]["coding"]}
        for resource in (entry["resource"] for entry in bundle["entry"])
        for key in ("code", "vaccineCode", "medicationCodeableConcept")
        if key in resource and "coding" in resource[key] and resource["resourceType"] != "AllergyIntolerance"
    }
    assert "http://loinc.org" in systems["Observation"]
    assert "http://www.nlm.nih.gov/research/umls/rxnorm" in systems["MedicationRequest"]
    assert systems["Immunization"] == {"http://hl7.org/fhir/sid/cvx"}
    conditions = {r["code"]["coding"][0]["system"] for r in resources(bundle, "Condition")}
    assert conditions == {"http://hl7.org/fhir/sid/icd-10-cm", "http://snomed.info/sct"}
    labelled = [r for r in resources(bundle, "Condition") if r.get("meta", {}).get("security")]
    assert labelled[0]["meta"]["security"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}
    ]


def test_round_trip_gives_the_same_record(world: World) -> None:
    assert import_file(alice_bundle(), "alice.json", "test").accepted
    original = record_of(world.alice)
    exported = json.dumps(patient_bundle(access_of(world.alice_user, world.alice))).encode()
    wipe(world.alice)
    assert sum(len(rows) for rows in record_of(world.alice).values()) == 0
    report = import_file(exported, "export.json", "test")
    assert report.accepted, report.problems
    restored = record_of(world.alice)
    assert sum(len(rows) for rows in restored.values()) == 27
    assert restored == original


def test_importing_the_export_onto_the_record_changes_nothing(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    before = record_of(world.alice)
    exported = json.dumps(patient_bundle(access_of(world.alice_user, world.alice))).encode()
    report = import_file(exported, "export.json", "test")
    assert report.accepted and not report.changed
    assert record_of(world.alice) == before


def test_sections_and_dates_choose_rows(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    access = access_of(world.alice_user, world.alice)
    only = patient_bundle(access, ["medications", "allergies"])
    assert sorted({entry["resource"]["resourceType"] for entry in only["entry"]}) == [
        "AllergyIntolerance",
        "MedicationRequest",
        "Patient",
    ]
    recent = patient_bundle(access, ["results"], date_from=dt.date(2025, 3, 1), date_to=dt.date(2025, 3, 31))
    names = sorted(r["code"]["text"] for r in resources(recent, "DiagnosticReport"))
    assert names == ["Basic metabolic panel"]
    assert len(resources(recent, "Observation")) == 6  # four in the panel, two vital signs
    # Medications current at some time in the range: lisinopril (ongoing), not atorvastatin (2022).
    meds = patient_bundle(access, ["medications"], date_from=dt.date(2024, 1, 1))
    assert sorted(r["medicationCodeableConcept"]["text"] for r in resources(meds, "MedicationRequest")) == [
        "Amoxicillin",
        "Lisinopril",
    ]


def test_a_parent_of_a_teenager_gets_no_confidential_rows(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    teenager = world.alice
    teenager.birth_date = timezone.localdate().replace(year=timezone.localdate().year - 15, month=1, day=2)
    teenager.save(update_fields=["birth_date"])
    world.proxy_grant.relationship = "parent"
    world.proxy_grant.save(update_fields=["relationship"])
    parent = patient_bundle(access_of(world.proxy_user, teenager))
    text = json.dumps(parent)
    assert "Depressive disorder" not in text and "Psychiatry consultation" not in text
    assert "HIV 1 and 2" not in text and "Urinalysis" not in text
    assert "Lisinopril" in text
    own = json.dumps(patient_bundle(access_of(world.alice_user, teenager)))
    assert "Depressive disorder" in own and "Urinalysis" in own


def test_a_held_result_reaches_the_clinician_not_the_patient(world: World) -> None:
    make_panel(world.alice, "Held panel", available_at=timezone.now() + dt.timedelta(hours=24))
    make_panel(world.alice, "Released panel")
    mine = json.dumps(patient_bundle(access_of(world.alice_user, world.alice), ["results"]))
    assert "Released panel" in mine and "Held panel" not in mine
    theirs = json.dumps(patient_bundle(access_of(world.clinician, world.alice), ["results"]))
    assert "Held panel" in theirs
    assert Bundle.model_validate(json.loads(mine)).type == "collection"


def test_other_patients_rows_never_appear(world: World) -> None:
    make_panel(world.bob, "Bob's panel")
    make_note(world.bob, "Bob's note")
    text = json.dumps(patient_bundle(access_of(world.alice_user, world.alice)))
    assert "Bob" not in text


def test_queries_do_not_grow_with_the_record(world: World) -> None:
    access = access_of(world.alice_user, world.alice)
    import_file(alice_bundle(), "alice.json", "test")
    few = query_count(lambda: patient_bundle(access))
    for number in range(15):
        make_panel(world.alice, f"Panel {number}")
        make_note(world.alice, f"Note {number}")
    many = query_count(lambda: patient_bundle(access))
    assert few == many
    assert row_counts()["ResultReport"] == 19


def test_rows_entered_in_the_portal_export_too(world: World) -> None:
    make_panel(world.alice, "Entered here")
    bundle = patient_bundle(access_of(world.alice_user, world.alice), ["results"])
    report = resources(bundle, "DiagnosticReport")[0]
    assert "identifier" not in report and len(report["result"]) == 3
    assert Bundle.model_validate(bundle)
