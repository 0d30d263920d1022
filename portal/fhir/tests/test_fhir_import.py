"""Importing FHIR R4 bundles: mapping, matching, idempotency and all-or-nothing rejection."""

from __future__ import annotations

import copy
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from portal.audit.models import AuditEvent
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import alice_bundle, row_counts
from portal.notifications.models import Notification
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    Immunization,
    ImportBatch,
    Medication,
    Observation,
    Problem,
    Procedure,
    ReleaseHoldRule,
    ReleasePreference,
    ResultReport,
)
from portal.test import World


def bundle() -> dict[str, Any]:
    return json.loads(alice_bundle())


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def index_of(document: dict[str, Any], number: int) -> int:
    url = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
    return next(index for index, entry in enumerate(document["entry"]) if entry["fullUrl"] == url)


def entry_of(document: dict[str, Any], number: int) -> dict[str, Any]:
    url = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
    return next(entry["resource"] for entry in document["entry"] if entry["fullUrl"] == url)


def test_it_imports_every_resource_type(world: World) -> None:
    report = import_file(alice_bundle(), "alice.json", "test")
    assert report.accepted and report.format == "fhir" and report.changed
    counts = {kind: c.created for kind, c in report.patients["10000001"].items()}
    assert counts == {
        "Allergy": 2,
        "ClinicalNote": 2,
        "Document": 1,
        "Encounter": 1,
        "Immunization": 2,
        "Medication": 3,
        "Observation": 8,
        "Problem": 3,
        "Procedure": 1,
        "ResultReport": 4,
    }
    assert ResultReport.objects.filter(patient=world.bob).count() == 0
    batch = ImportBatch.objects.get()
    assert batch.digest == report.digest and batch.format == "fhir" and batch.submitted_by == "test"


def test_a_lab_panel_links_its_values_in_order(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    panel = ResultReport.objects.get(code="51990-0")
    assert panel.category == "lab" and panel.status == "final"
    assert panel.performer == "Rochester Central Laboratory" and panel.ordered_by_name == "Carol Staff, MD"
    assert panel.conclusion.startswith("Potassium slightly high")
    assert panel.encounter == Encounter.objects.get(patient=world.alice)
    values = list(panel.observations.order_by("position").values_list("code", "position", "interpretation"))
    assert values == [("2345-7", 0, "N"), ("2951-2", 1, "N"), ("2823-3", 2, "H"), ("2160-0", 3, "N")]
    potassium = Observation.objects.get(code="2823-3")
    assert potassium.value_number == Decimal("5.4") and potassium.unit == "mmol/L"
    assert (potassium.range_low, potassium.range_high) == (Decimal("3.5"), Decimal("5.1"))
    assert potassium.note == "Slightly haemolysed sample."
    assert potassium.source_id == "urn:uuid:00000000-0000-4000-8000-000000000022"


def test_vitals_text_and_coded_values(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    pressure = Observation.objects.get(code="85354-9")
    assert pressure.report is None and pressure.category == "vital-signs"
    assert (pressure.value_text, pressure.unit) == ("128/82", "mmHg")
    hiv = Observation.objects.get(code="75622-1")
    assert hiv.value_text == "Negative" and hiv.sensitivity == "sexual-health"
    urine = Observation.objects.get(code="5778-6")
    assert urine.status == "preliminary" and urine.value_text == "Yellow" and urine.range_text == "Yellow"
    # An unlabelled value in a labelled report is as sensitive as its report.
    assert urine.report is not None and urine.report.sensitivity == "sexual-health"
    assert urine.sensitivity == "sexual-health"


def test_an_imaging_report_takes_its_study(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    xray = ResultReport.objects.get(code="36643-5")
    assert xray.category == "imaging" and xray.modality == "DX" and xray.body_site == "Chest"
    assert xray.study_uid == "1.2.840.113619.2.55.3.604688119.971.1234567890.123"
    assert (
        xray.findings.startswith("Lungs are clear") and xray.impression == "No acute cardiopulmonary disease."
    )
    assert ResultReport.objects.get(name="Skin biopsy, left forearm").category == "pathology"


def test_notes_documents_and_the_rest(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    note = ClinicalNote.objects.get(kind="progress-note")
    assert note.title == "Blood pressure follow-up" and note.author_name == "Dr. Carol Staff"
    assert note.body.startswith("Seen for blood pressure") and note.encounter is not None
    consult = ClinicalNote.objects.get(kind="consult-note")
    assert consult.sensitivity == "mental-health" and consult.title == "Psychiatry consultation"
    document = Document.objects.get()
    assert document.kind == "outside-record" and document.content_type == "application/pdf"
    content = document.file.read()
    assert content.startswith(b"%PDF-") and document.size == len(content) and len(document.sha256) == 64
    lisinopril = Medication.objects.get(code="314076")
    assert (lisinopril.name, lisinopril.dose, lisinopril.route) == ("Lisinopril", "10 mg", "By mouth")
    assert lisinopril.prescriber_name == "Dr. Carol Staff" and lisinopril.refills_remaining == 3
    assert Medication.objects.get(code="308182").status == "completed"
    atorvastatin = Medication.objects.get(name="Atorvastatin")
    assert atorvastatin.status == "stopped" and str(atorvastatin.ended_on) == "2022-07-10"
    penicillin = Allergy.objects.get(substance="Penicillin")
    assert (penicillin.reaction, penicillin.severity, penicillin.code) == (
        "Hives; Itching",
        "moderate",
        "7980",
    )
    flu = Immunization.objects.get(code="150")
    assert flu.campus == world.campus and flu.dose_number == 1 and flu.lot_number == "FL2024A"
    assert Immunization.objects.get(code="208").status == "not-done"
    depression = Problem.objects.get(code="35489007")
    assert (depression.status, depression.category, depression.sensitivity) == (
        "inactive",
        "health-concern",
        "mental-health",
    )
    visit = Encounter.objects.get()
    assert (
        visit.kind == "office"
        and visit.practitioner_name == "Dr. Carol Staff"
        and visit.campus == world.campus
    )
    assert visit.diagnoses == [
        {"code": "I10", "system": "http://hl7.org/fhir/sid/icd-10-cm", "name": "Essential hypertension"}
    ]
    assert Procedure.objects.get().encounter == visit


def test_one_audit_event_for_the_patient(world: World) -> None:
    report = import_file(alice_bundle(), "alice.json", "test")
    events = list(AuditEvent.objects.filter(action="records.imported"))
    assert len(events) == 1
    event = events[0]
    assert event.patient_id == world.alice.pk and event.kind == "write" and event.actor_label == "system"
    assert event.detail["digest"] == report.digest and event.detail["counts"]["Observation"]["created"] == 8


def test_importing_the_same_file_twice_changes_nothing(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    before, events = row_counts(), AuditEvent.objects.count()
    again = import_file(alice_bundle(), "alice-again.json", "test")
    assert again.accepted and again.already_imported and not again.changed
    assert row_counts() == before and AuditEvent.objects.count() == events


def test_the_same_content_in_other_bytes_changes_no_row(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    stamps = sorted(Observation.objects.values_list("updated_at", flat=True))
    before, events = row_counts(), AuditEvent.objects.count()
    again = import_file(json.dumps(bundle(), indent=4).encode(), "alice-pretty.json", "test")
    assert again.accepted and not again.already_imported and not again.changed
    assert again.patients["10000001"]["Observation"].unchanged == 8
    assert sorted(Observation.objects.values_list("updated_at", flat=True)) == stamps
    assert row_counts() == {**before, "ImportBatch": before["ImportBatch"] + 1}
    assert AuditEvent.objects.count() == events


def test_a_corrected_value_updates_in_place(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    document = bundle()
    potassium = entry_of(document, 22)
    potassium["status"], potassium["valueQuantity"]["value"] = "corrected", 4.9
    potassium["interpretation"][0]["coding"][0]["code"] = "N"
    report = import_file(encode(document), "alice-corrected.json", "test")
    counts = report.patients["10000001"]["Observation"]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 7)
    row = Observation.objects.get(code="2823-3")
    assert (row.value_number, row.status, row.interpretation) == (Decimal("4.9"), "corrected", "N")
    assert AuditEvent.objects.filter(action="records.imported").count() == 2


def test_entered_in_error_removes_the_row(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    document = bundle()
    entry_of(document, 81)["verificationStatus"] = {"coding": [{"code": "entered-in-error"}]}
    report = import_file(encode(document), "alice-void.json", "test")
    assert report.patients["10000001"]["Allergy"].removed == 1
    assert not Allergy.objects.filter(substance="Peanuts").exists()


def rejected(data: bytes, name: str = "bad.json") -> list[str]:
    before = row_counts()
    events = AuditEvent.objects.filter(action="records.imported").count()
    report = import_file(data, name, "test")
    assert not report.accepted
    assert row_counts() == before, "a rejected file must add nothing"
    assert AuditEvent.objects.filter(action="records.imported").count() == events
    return [f"{problem.location}: {problem.message}" for problem in report.problems]


def test_bad_json_is_rejected(world: World) -> None:
    problems = rejected(alice_bundle()[:-40])
    assert len(problems) == 1 and problems[0].startswith("file: not valid JSON")


def test_a_bad_status_is_rejected_with_its_location(world: World) -> None:
    document = bundle()
    entry_of(document, 21)["status"] = "done"
    problems = rejected(encode(document))
    assert problems == [
        f"entry {index_of(document, 21)} (Observation) status: 'done' is not a known status (expected one of: amended, cancelled, "
        "corrected, entered-in-error, final, preliminary, registered)"
    ]


def test_every_problem_is_listed_and_nothing_is_saved(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    document = bundle()
    entry_of(document, 22)["valueQuantity"]["value"] = 99.0  # a good change, not saved either
    entry_of(document, 31)["effectiveDateTime"] = "yesterday"
    entry_of(document, 60)["onsetDatetime"] = "2019-04-01"  # misspelt element
    del entry_of(document, 90)["vaccineCode"]
    problems = rejected(encode(document))
    assert [problem.split(":")[0] for problem in problems] == [
        f"entry {index_of(document, 31)} (Observation) effectiveDateTime",
        f"entry {index_of(document, 60)} (Condition) onsetDatetime",
        f"entry {index_of(document, 90)} (Immunization) vaccineCode",
    ]
    assert Observation.objects.get(code="2823-3").value_number == Decimal("5.4")


def test_an_unknown_patient_rejects_the_whole_file(world: World) -> None:
    document = bundle()
    entry_of(document, 1)["identifier"] = [{"system": "urn:portal:clinic-number", "value": "99999999"}]
    problems = rejected(encode(document))
    assert problems == [
        "entry 0 (Patient) identifier: matches no patient of the clinic (identifiers: 99999999); "
        "patients are never created"
    ]


def test_a_patient_named_only_by_identifier(world: World) -> None:
    document: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:a1",
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "code": {"text": "Latex"},
                    "patient": {"identifier": {"value": "10000002"}},
                    "recordedDate": "2020-01-01",
                },
            },
            {
                "fullUrl": "urn:uuid:a2",
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "code": {"text": "Latex"},
                    "patient": {"identifier": {"value": "12345678"}},
                    "recordedDate": "2020-01-01",
                },
            },
        ],
    }
    assert rejected(encode(document)) == [
        "entry 1 (AllergyIntolerance) patient.identifier: no patient has the clinic number '12345678'"
    ]
    del document["entry"][1]
    assert import_file(encode(document), "latex.json", "test").accepted
    assert Allergy.objects.get().patient == world.bob


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(type="document"), "Bundle type: bundle type must be one of"),
        (lambda d: d.update(resourceType="Patient"), "resourceType: a FHIR import must be a Bundle"),
        (lambda d: d.update(entry=[]), "Bundle entry: the bundle has no entries"),
        (
            lambda d: d["entry"][3].update(request={"method": "DELETE", "url": "Encounter/1"}),
            "entry 3 (Encounter)",
        ),
        (lambda d: d["entry"][3]["resource"].update(resourceType="Nonsense"), "entry 3 resourceType"),
        (lambda d: d["entry"].append(d["entry"][4]), "appears more than once"),
    ],
)
def test_malformed_bundles(world: World, change: Any, expected: str) -> None:
    document = copy.deepcopy(bundle())
    change(document)
    problems = rejected(encode(document))
    assert any(expected in problem for problem in problems), problems


def test_a_report_naming_an_unknown_result_is_rejected(world: World) -> None:
    document = bundle()
    entry_of(document, 24)["result"].append({"reference": "Observation/never-sent"})
    problems = rejected(encode(document))
    assert problems == [
        f"entry {index_of(document, 24)} (DiagnosticReport) result: result 'Observation/never-sent' is neither in this file "
        "nor imported before"
    ]


def test_a_report_may_name_values_sent_before(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    document = bundle()
    report = entry_of(document, 24)
    report["conclusion"] = "Reviewed."
    document["entry"] = [
        entry
        for entry in document["entry"]
        if entry["resource"] is report or entry["resource"]["resourceType"] in ("Patient", "Encounter")
    ]
    result = import_file(encode(document), "report-only.json", "test")
    assert result.accepted, result.problems
    assert ResultReport.objects.get(code="51990-0").conclusion == "Reviewed."
    assert ResultReport.objects.get(code="51990-0").observations.count() == 4


def test_a_large_bundle_imports_quickly(world: World) -> None:
    entries = [{"fullUrl": "urn:uuid:p", "resource": entry_of(bundle(), 1)}]
    for number in range(6000):
        entries.append(
            {
                "fullUrl": f"urn:uuid:obs-{number}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]
                    },
                    "subject": {"reference": "urn:uuid:p"},
                    "effectiveDateTime": f"2024-01-01T{number % 24:02d}:00:00Z",
                    "valueQuantity": {"value": 80 + number % 40, "unit": "mg/dL"},
                    "referenceRange": [{"low": {"value": 70}, "high": {"value": 99}}],
                },
            }
        )
    data = encode({"resourceType": "Bundle", "type": "batch", "entry": entries})
    started = time.monotonic()
    report = import_file(data, "big.json", "test")
    took = time.monotonic() - started
    assert report.accepted and report.patients["10000001"]["Observation"].created == 6000
    assert took < 60, f"took {took:.1f} s"


def test_the_patient_hears_of_new_results_once(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    mine = Notification.objects.filter(recipient=world.alice_user, patient=world.alice)
    assert mine.count() == 2  # one for ordinary results, one for the sexual-health ones
    assert Notification.objects.filter(recipient=world.proxy_user).count() == 2
    import_file(json.dumps(bundle(), indent=2).encode(), "alice-again.json", "test")
    assert mine.count() == 2


def test_a_clinic_hold_delays_new_results(world: World) -> None:
    ReleaseHoldRule.objects.create(
        category="pathology", hold_hours=48, reason="Discussed with the patient first."
    )
    import_file(alice_bundle(), "alice.json", "test")
    biopsy = ResultReport.objects.get(category="pathology")
    assert biopsy.is_held and biopsy.hold_reason == "Discussed with the patient first."
    assert not ResultReport.objects.get(code="51990-0").is_held


def test_no_notice_for_results_the_patient_waits_to_review(world: World) -> None:
    ReleasePreference.objects.create(patient=world.alice, category="lab", wait_for_review=True)
    import_file(alice_bundle(), "alice.json", "test")
    # One notice for the imaging and pathology reports; the lab results wait for review.
    assert Notification.objects.filter(recipient=world.alice_user).count() == 1
