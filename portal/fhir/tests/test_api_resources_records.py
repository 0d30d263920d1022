"""The record's resource types of the FHIR API, called directly (rows, to_fhir, search params)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources.binary import content
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import access_of, alice_bundle
from portal.patients.models import Patient
from portal.records.models import ClinicalNote, Encounter, Problem, Procedure
from portal.records.tests.support import (
    make_allergy,
    make_immunization,
    make_medication,
    make_note,
    make_panel,
)
from portal.smart import scopes
from portal.smart.models import PatientAuthorization
from portal.smart.tests.support import make_app
from portal.test import World

RECORD_TYPES = (
    "DiagnosticReport",
    "DocumentReference",
    "Binary",
    "MedicationRequest",
    "AllergyIntolerance",
    "Immunization",
    "Condition",
    "Encounter",
    "Procedure",
)


def grant_for(user: Any, patient: Patient, scope: str = "patient/*.rs") -> ApiGrant:
    authorization = PatientAuthorization.objects.create(
        application=make_app(), user=user, patient=patient, scopes=scope
    )
    return ApiGrant(access_of(user, patient), authorization, scopes.parse(scope))


def kind(name: str) -> registry.ResourceType:
    return registry.resource_types()[name]


def served(name: str, grant: ApiGrant, **search: str) -> list[dict[str, Any]]:
    """The resources of a search, each validated against the R4B model of its type."""
    resource_type = kind(name)
    rows = resource_type.rows(grant)
    for param, value in search.items():
        rows = resource_type.search_params[param].apply(rows, [value.split(",")])
    found = [resource_type.to_fhir(row, grant) for row in rows.order_by(*resource_type.default_order)]
    for resource in found:
        get_fhir_model_class(name).model_validate(resource)
        assert resource["id"].startswith(resource_type.id_prefix + "-")
    return found


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {resource["id"] for resource in resources}


@pytest.fixture
def record(world: World) -> World:
    import_file(alice_bundle(), "alice.json", "test")
    make_panel(world.bob, "Bob's panel")
    make_note(world.bob, "Bob's note")
    make_medication(world.bob, "Bob's pill")
    make_allergy(world.bob, "Bob's allergen")
    make_immunization(world.bob, "Bob's vaccine")
    return world


@pytest.mark.parametrize("name", RECORD_TYPES)
def test_alice_reads_her_rows_and_never_bobs(record: World, name: str) -> None:
    mine = served(name, grant_for(record.alice_user, record.alice))
    assert mine
    text = json.dumps(mine)
    assert "Bob" not in text
    theirs = served(name, grant_for(record.bob_user, record.bob))
    assert not ids(mine) & ids(theirs)
    profiles = kind(name).profiles
    for resource in mine:
        claimed = resource.get("meta", {}).get("profile", [])
        assert set(claimed) <= set(profiles) and (claimed or not profiles)


@pytest.mark.parametrize("name", RECORD_TYPES)
def test_references_are_restful(record: World, name: str) -> None:
    text = json.dumps(served(name, grant_for(record.alice_user, record.alice)))
    assert '"reference": "urn:uuid' not in text
    if name not in ("Binary",):
        assert f'"Patient/patient-{record.alice.pk}"' in text


def make_teenager(world: World) -> None:
    teenager = world.alice
    teenager.birth_date = timezone.localdate().replace(year=timezone.localdate().year - 15, month=1, day=2)
    teenager.save(update_fields=["birth_date"])
    world.proxy_grant.relationship = "parent"
    world.proxy_grant.save(update_fields=["relationship"])


def test_a_parent_of_a_teenager_gets_no_confidential_rows(record: World) -> None:
    make_teenager(record)
    parent = grant_for(record.proxy_user, record.alice)
    own = grant_for(record.alice_user, record.alice)
    text = json.dumps([served(name, parent) for name in RECORD_TYPES])
    assert "Depressive disorder" not in text and "Psychiatry consultation" not in text
    assert "HIV 1 and 2" not in text and "Urinalysis" not in text
    assert "Lisinopril" in text
    own_text = json.dumps([served(name, own) for name in RECORD_TYPES])
    assert "Depressive disorder" in own_text and "Urinalysis" in own_text


def test_confidential_note_content_is_hidden_from_the_parent(record: World) -> None:
    make_teenager(record)
    note = make_note(record.alice, "Private talk", sensitivity="mental-health", body="Only for me")
    parent_binary = served("Binary", grant_for(record.proxy_user, record.alice))
    assert f"clinicalnote-{note.pk}" not in ids(parent_binary)
    own_binary = served("Binary", grant_for(record.alice_user, record.alice))
    assert f"clinicalnote-{note.pk}" in ids(own_binary)


def test_a_held_result_is_not_served(record: World) -> None:
    held = make_panel(record.alice, "Held panel", available_at=timezone.now() + dt.timedelta(hours=24))
    reports = served("DiagnosticReport", grant_for(record.alice_user, record.alice))
    assert f"resultreport-{held.pk}" not in ids(reports)


def test_report_results_name_their_observations(record: World) -> None:
    panel = make_panel(record.alice, "Entered here")
    grant = grant_for(record.alice_user, record.alice)
    (report,) = [r for r in served("DiagnosticReport", grant) if r["id"] == f"resultreport-{panel.pk}"]
    assert [ref["reference"].split("/")[0] for ref in report["result"]] == ["Observation"] * 3


def test_document_reference_points_at_its_binary(record: World) -> None:
    note = make_note(record.alice, "Pointed")
    grant = grant_for(record.alice_user, record.alice)
    (document,) = [r for r in served("DocumentReference", grant) if r["id"] == f"clinicalnote-{note.pk}"]
    attachment = document["content"][0]["attachment"]
    assert attachment["url"] == f"Binary/clinicalnote-{note.pk}" and "data" not in attachment
    (binary,) = [r for r in served("Binary", grant) if r["id"] == f"clinicalnote-{note.pk}"]
    assert binary["contentType"].startswith("text/plain")
    assert content(ClinicalNote.objects.get(pk=note.pk))[0] == note.body.encode()


def names(resources: list[dict[str, Any]], key: str = "code") -> set[str]:
    return {resource.get(key, {}).get("text", "") for resource in resources}


def test_search_parameters_narrow_the_lists(record: World) -> None:
    grant = grant_for(record.alice_user, record.alice)
    patient = f"Patient/patient-{record.alice.pk}"
    everything = served("Condition", grant)
    assert len(served("Condition", grant, patient=patient)) == len(everything)
    assert served("Condition", grant, patient=f"patient-{record.bob.pk}") == []
    problem = Problem.objects.filter(patient=record.alice).first()
    assert problem is not None
    by_code = served("Condition", grant, code=f"{problem.code_system}|{problem.code}")
    assert ids(by_code) == {f"problem-{problem.pk}"}
    assert served("Condition", grant, code="http://other|" + problem.code) == []
    assert len(
        served("Condition", grant, **{"clinical-status": "active,resolved,inactive,recurrence"})
    ) == len(everything)
    assert served("Condition", grant, category="encounter-diagnosis,problem-list-item,health-concern")

    labs = served("DiagnosticReport", grant, category="http://terminology.hl7.org/CodeSystem/v2-0074|LAB")
    assert labs and all(r["category"][0]["coding"][0]["code"] == "LAB" for r in labs)
    assert served("DiagnosticReport", grant, status="final")
    assert served("DiagnosticReport", grant, date="ge2100-01-01") == []
    assert served("DiagnosticReport", grant, date="lt2100") and served(
        "DiagnosticReport", grant, code="|58410-2"
    ) == [
        r
        for r in served("DiagnosticReport", grant)
        if r["code"].get("coding", [{}])[0].get("code") == "58410-2"
    ]

    assert served("MedicationRequest", grant, intent="order")
    assert served("MedicationRequest", grant, intent="plan") == []
    assert served("MedicationRequest", grant, status="active")
    assert served("AllergyIntolerance", grant, **{"clinical-status": "active"})
    assert served("Immunization", grant, status="completed", date="ge1900")
    assert served("Immunization", grant, date="lt1900") == []
    assert served("DocumentReference", grant, category="clinical-note")
    assert served("DocumentReference", grant, status="current")


def test_encounter_and_procedure_searches(record: World) -> None:
    grant = grant_for(record.alice_user, record.alice)
    visit = Encounter.objects.filter(patient=record.alice).first()
    procedure = Procedure.objects.filter(patient=record.alice).first()
    assert visit is not None and procedure is not None
    day = visit.started_at.astimezone(dt.UTC).strftime("%Y-%m-%d")
    assert f"encounter-{visit.pk}" in ids(served("Encounter", grant, date=f"ap{day}"))
    assert served("Encounter", grant, status=visit.status)
    assert served("Encounter", grant, status="cancelled" if visit.status != "cancelled" else "finished") == []
    klass = served("Encounter", grant)[0]["class"]["code"]
    assert served(
        "Encounter", grant, **{"class": f"http://terminology.hl7.org/CodeSystem/v3-ActCode|{klass}"}
    )
    assert f"procedure-{procedure.pk}" in ids(
        served("Procedure", grant, code=procedure.code, status="completed")
    )
    assert served("Procedure", grant, date="gt2999") == []


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [
        ("DiagnosticReport", "date", "yesterday"),
        ("DiagnosticReport", "date", "2024-13-45"),
        ("Immunization", "date", "ge20x4"),
        ("Encounter", "date", "2024-01-01T25:00"),
        ("Condition", "code", ""),
        ("MedicationRequest", "status", "x" * 500),
    ],
)
def test_unreadable_values_raise_search_error(record: World, name: str, param: str, value: str) -> None:
    grant = grant_for(record.alice_user, record.alice)
    resource_type = kind(name)
    with pytest.raises(registry.SearchError):
        list(resource_type.search_params[param].apply(resource_type.rows(grant), [[value]]))
