"""What an export holds: the resources the patient API serves each patient, only the members',
only released results, `_since`, file splitting, cancellation mid-run, and a query count
that does not grow with the number of patients."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.bulk import export, groups
from portal.bulk.models import BackendService, ExportJob, PatientGroup
from portal.bulk.sources import NOT_EXPORTED, exportable
from portal.bulk.tasks import run_export
from portal.bulk.tests.support import make_service
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.registry import resource_types
from portal.fhir.api.search import parts_of
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import alice_bundle
from portal.organization.models import Campus
from portal.patients.access import decide
from portal.patients.models import CareRelationship, Patient
from portal.records.models import Document, Encounter, Observation, ReleasePreference, ResultReport
from portal.records.tests.support import make_allergy, make_note, make_panel, make_visit
from portal.smart import scopes
from portal.smart.models import PatientAuthorization
from portal.smart.tests.support import make_app
from portal.test import World, captured_queries, make_patient, make_user

PDF = b"%PDF-1.4\n% a tiny test file\n"


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.PORTAL_BULK_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.PORTAL_BULK_EXPORT_DIR)


def queue(service: BackendService, types: list[str] | None = None, **fields: Any) -> ExportJob:
    return ExportJob.objects.create(
        service=service,
        level=fields.pop("level", ExportJob.Level.SYSTEM),
        types=" ".join(types or exportable()),
        request_url="http://testserver/fhir/r4/$export",
        **fields,
    )


def run(job: ExportJob) -> dict[str, list[dict[str, Any]]]:
    """Run the job as the worker does; its resources by type, read back from its files."""
    assert run_export.call(job.pk) == ExportJob.Status.COMPLETE
    found: dict[str, list[dict[str, Any]]] = {}
    for file in job.files.order_by("resource_type", "sequence"):
        lines = (export.export_root() / file.name).read_bytes().splitlines()
        assert len(lines) == file.count
        found.setdefault(file.resource_type, []).extend(json.loads(line) for line in lines)
    return found


def about(resource: dict[str, Any]) -> str | None:
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}"
    for key in ("subject", "patient", "beneficiary"):
        if key in resource:
            return str(resource[key]["reference"])
    for participant in resource.get("participant", []):
        reference = participant.get("actor", {}).get("reference", "")
        if reference.startswith("Patient/"):
            return str(reference)
    return None


def own_grant(patient: Patient) -> ApiGrant:
    """The grant of an app the patient connected with every read scope."""
    assert patient.account is not None
    access = decide(patient.account, patient)
    assert access is not None
    authorization = PatientAuthorization.objects.create(
        application=make_app(), user=patient.account, patient=patient, scopes="patient/*.rs"
    )
    return ApiGrant(access, authorization, scopes.parse("patient/*.rs"))


def served(name: str, grant: ApiGrant) -> list[dict[str, Any]]:
    """What the patient API serves the grant of one type, in the patient's zone as its views write it."""
    found = []
    with timezone.override(ZoneInfo(grant.patient.primary_campus.time_zone)):
        for part in parts_of(resource_types()[name]):
            found += [part.to_fhir(row, grant) for row in part.rows(grant)]
    return found


def comparable(resource: dict[str, Any]) -> str:
    """A resource as compared with the API's: an attachment's content is inline in an export."""
    resource = json.loads(json.dumps(resource))
    for content in resource.get("content", []):
        content["attachment"].pop("url", None)
        content["attachment"].pop("data", None)
    return json.dumps(resource, sort_keys=True)


@pytest.fixture
def clinic(world: World) -> World:
    """Alice with a full record (the imported bundle and more), Bob with some, and Carl elsewhere."""
    import_file(alice_bundle(), "alice.json", "test")
    alice = Patient.objects.get(pk=world.alice.pk)
    make_visit(
        alice,
        instructions="Rest and fluids.",
        follow_up="Back in two weeks.",
        practitioner=world.clinician.practitioner,
    )
    make_note(alice, "Consultation", author=world.clinician.practitioner)
    document = Document(
        patient=alice,
        title="Outside record",
        dated_on=dt.date(2025, 3, 4),
        content_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
    )
    document.file.save("outside.pdf", ContentFile(PDF), save=True)
    make_panel(world.bob, "Bob's panel")
    make_allergy(world.bob, "Bob's allergen")
    jacksonville = Campus.objects.create(
        slug="jax",
        name="Jacksonville, Florida",
        short_name="Jacksonville",
        address_line="4500 San Pablo Road",
        city="Jacksonville",
        region="FL",
        postal_code="32224",
        time_zone="America/New_York",
        zone_label="Eastern time",
    )
    carl = make_patient("10000003", "Carl", "Coast", jacksonville, account=make_user("carl"))
    make_panel(carl, "Carl's panel")
    return world


# What is exported ----------------------------------------------------------------------------


def test_every_type_the_api_serves_is_exported_or_left_out_on_purpose() -> None:
    assert set(exportable()) | set(NOT_EXPORTED) == set(resource_types())
    assert not set(exportable()) & set(NOT_EXPORTED)


def test_each_patients_resources_are_the_ones_the_patient_api_serves_them(clinic: World) -> None:
    everyone = run(queue(make_service(all_patients=True)))
    patients = list(Patient.objects.all())
    shared = {"Practitioner", "Location", "Organization"}
    for name in exportable():
        exported = everyone.get(name, [])
        if name in shared:
            union = {comparable(item) for patient in patients for item in served(name, own_grant(patient))}
            if name == "Organization":
                assert {comparable(item) for item in exported} >= union
            else:
                assert {comparable(item) for item in exported} == union, name
            continue
        for patient in patients:
            mine = [item for item in exported if about(item) == f"Patient/patient-{patient.pk}"]
            expected = served(name, own_grant(patient))
            assert sorted(map(comparable, mine)) == sorted(map(comparable, expected)), (name, patient)
        assert all(about(item) is not None for item in exported), name
    # The record is there in depth: every type holds something for Alice.
    alice = f"Patient/patient-{clinic.alice.pk}"
    held = {name for name, items in everyone.items() if any(about(item) == alice for item in items)}
    assert held >= set(exportable()) - shared - {"Appointment", "Coverage"}


def test_a_documents_content_is_inline(clinic: World) -> None:
    found = run(queue(make_service(all_patients=True), ["DocumentReference"]))["DocumentReference"]
    attachments = [item["content"][0]["attachment"] for item in found]
    assert all("url" not in attachment for attachment in attachments)
    assert PDF in [base64.b64decode(attachment["data"]) for attachment in attachments]
    assert any(
        base64.b64decode(attachment["data"]).startswith(b"Seen for a follow-up") for attachment in attachments
    )


def test_unreleased_results_are_never_exported(world: World) -> None:
    make_panel(world.alice, "Released panel")
    make_panel(world.alice, "Held panel", available_at=timezone.now() + dt.timedelta(days=3))
    ReleasePreference.objects.create(
        patient=world.alice, category=ResultReport.Category.PATHOLOGY, wait_for_review=True
    )
    make_panel(world.alice, "Biopsy, not reviewed", category=ResultReport.Category.PATHOLOGY)
    make_panel(
        world.alice, "Biopsy, reviewed", category=ResultReport.Category.PATHOLOGY, reviewed_at=timezone.now()
    )
    # Bob did not ask to wait: his pathology shows at once.
    make_panel(world.bob, "Bob's biopsy", category=ResultReport.Category.PATHOLOGY)
    found = run(queue(make_service(all_patients=True), ["DiagnosticReport", "Observation"]))
    reports = {item["code"]["text"] for item in found["DiagnosticReport"]}
    assert reports == {"Released panel", "Biopsy, reviewed", "Bob's biopsy"}
    held = ResultReport.objects.filter(name__in=["Held panel", "Biopsy, not reviewed"])
    hidden = {
        f"observation-{pk}" for pk in Observation.objects.filter(report__in=held).values_list("pk", flat=True)
    }
    assert hidden and not hidden & {item["id"] for item in found["Observation"]}
    assert len(found["Observation"]) == 9


def test_only_the_groups_members_are_exported(clinic: World) -> None:
    world = clinic
    carl = Patient.objects.get(clinic_number="10000003")
    group = PatientGroup.objects.create(name="Rochester", campus=world.campus)
    service = make_service(groups=[group])
    found = run(queue(service, level=ExportJob.Level.GROUP, group=group))
    whose = {about(item) for items in found.values() for item in items} - {None}
    assert whose == {f"Patient/patient-{world.alice.pk}", f"Patient/patient-{world.bob.pk}"}
    assert f"Patient/patient-{carl.pk}" not in whose
    # Patient/$export is the union of the service's groups.
    care = PatientGroup.objects.create(name="Family medicine", care_team=world.care_team)
    service.groups.set([care])
    found = run(queue(service, ["Patient", "Observation"], level=ExportJob.Level.PATIENT))
    assert {about(item) for items in found.values() for item in items} == {
        f"Patient/patient-{world.alice.pk}"
    }


def test_group_membership_follows_the_rule_today(world: World) -> None:
    today = timezone.localdate()
    team = world.care_team
    group = PatientGroup.objects.create(name="Family medicine", care_team=team)
    CareRelationship.objects.create(
        patient=world.bob,
        care_team=team,
        starts_on=today - dt.timedelta(days=30),
        ends_on=today - dt.timedelta(days=1),
    )
    assert set(groups.members(group)) == {world.alice}
    CareRelationship.objects.create(patient=world.bob, care_team=team, starts_on=today + dt.timedelta(days=1))
    assert set(groups.members(group)) == {world.alice}
    assert set(groups.members(group, today + dt.timedelta(days=1))) == {world.alice, world.bob}
    elsewhere = Campus.objects.create(
        slug="phx",
        name="Phoenix",
        short_name="Phoenix",
        address_line="1",
        city="Phoenix",
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
    )
    both = PatientGroup.objects.create(name="Family medicine in Phoenix", campus=elsewhere, care_team=team)
    assert not groups.members(both).exists()
    Patient.objects.filter(pk=world.alice.pk).update(primary_campus=elsewhere)
    assert set(groups.members(both)) == {world.alice}


def test_since_exports_what_changed_or_became_visible_after_it(world: World) -> None:
    since = timezone.now() - dt.timedelta(days=1)
    old = make_panel(world.alice, "Old panel")
    released_late = make_panel(world.alice, "Released today", available_at=since + dt.timedelta(hours=2))
    long_ago = since - dt.timedelta(days=5)
    ResultReport.objects.filter(pk=old.pk).update(available_at=long_ago)
    ResultReport.objects.filter(pk__in=[old.pk, released_late.pk]).update(updated_at=long_ago)
    Observation.objects.filter(report__in=[old, released_late]).update(updated_at=long_ago)
    Patient.objects.update(updated_at=long_ago)
    new = make_panel(world.alice, "New panel")
    found = run(
        queue(make_service(all_patients=True), ["Patient", "DiagnosticReport", "Observation"], since=since)
    )
    assert "Patient" not in found
    assert {item["code"]["text"] for item in found["DiagnosticReport"]} == {"New panel", "Released today"}
    expected = Observation.objects.filter(report__in=[new, released_late]).count()
    assert len(found["Observation"]) == expected


def test_files_are_split_at_the_configured_size(world: World, settings: Any) -> None:
    settings.PORTAL_BULK_EXPORT_FILE_RESOURCES = 2
    make_panel(world.alice)  # three values
    job = queue(make_service(all_patients=True), ["Observation"])
    found = run(job)
    assert [(file.sequence, file.count) for file in job.files.all()] == [(1, 2), (2, 1)]
    assert len({item["id"] for item in found["Observation"]}) == 3


def test_an_export_cancelled_while_running_stops_and_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, _exports_in_tmp: Path
) -> None:
    make_panel(world.alice)
    job = queue(make_service(all_patients=True), ["Patient", "Observation"])
    saves = 0
    original = export._Progress.save

    def cancel_on_third(progress: Any) -> None:
        nonlocal saves
        saves += 1
        if saves == 3:  # the client's DELETE lands while the worker writes Observation
            ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.CANCELLED)
        original(progress)

    monkeypatch.setattr(export, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(export._Progress, "save", cancel_on_third)
    assert run_export.call(job.pk) == "cancelled"
    job.refresh_from_db()
    assert job.status == ExportJob.Status.CANCELLED
    assert not job.files.exists()
    assert not any(_exports_in_tmp.rglob("*.ndjson"))
    assert not AuditEvent.objects.filter(action="bulk.export").exists()


def test_a_group_taken_away_before_the_worker_starts_fails_the_export(world: World) -> None:
    group = PatientGroup.objects.create(name="Rochester", campus=world.campus)
    service = make_service(groups=[group])
    job = queue(service, ["Patient"], level=ExportJob.Level.GROUP, group=group)
    service.groups.clear()
    assert run_export.call(job.pk) == ExportJob.Status.FAILED
    assert not AuditEvent.objects.filter(action="bulk.export").exists()


# Cost ------------------------------------------------------------------------------------------


def populate(world: World, count: int, start: int) -> None:
    for index in range(count):
        patient = make_patient(f"2{start + index:07d}", "Pat", f"Many{index}", world.campus)
        make_panel(patient)
        make_note(patient, author=world.clinician.practitioner)
        make_visit(patient, instructions="Rest.", practitioner=world.clinician.practitioner)
        make_allergy(patient)
        CareRelationship.objects.create(patient=patient, care_team=world.care_team)


def export_queries(service: BackendService) -> tuple[int, int]:
    job = queue(service)
    with captured_queries() as queries:
        run_export.call(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.COMPLETE, job.error
    return len(queries.captured_queries), sum(file.count for file in job.files.all())


def test_the_query_count_does_not_grow_with_the_patients(world: World) -> None:
    service = make_service(all_patients=True)
    populate(world, 5, 0)
    few, few_resources = export_queries(service)
    populate(world, 45, 100)
    many, many_resources = export_queries(service)
    assert many_resources > 5 * few_resources
    assert many == few


def test_the_query_count_grows_by_chunks_not_rows(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK", 10)
    service = make_service(all_patients=True)
    populate(world, 5, 0)
    few, _few_resources = export_queries(service)
    populate(world, 45, 100)
    many, many_resources = export_queries(service)
    # Per chunk: its rows, its patients, a report's values; a progress write now and then.
    assert many - few <= 4 * math.ceil(many_resources / 10)
    assert many - few < many_resources / 2


def test_patients_are_forgotten_between_chunks_to_keep_memory_flat(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(world, 12, 0)
    monkeypatch.setattr(export, "CHUNK", 5)
    monkeypatch.setattr(export._Patients, "KEEP", 6)
    CareRelationship.objects.create(patient=world.bob, care_team=world.scheduling_desk)
    CareRelationship.objects.create(patient=world.bob, care_team=world.care_team)
    found = run(queue(make_service(all_patients=True), ["Observation", "AllergyIntolerance", "CareTeam"]))
    assert len(found["Observation"]) == 36
    assert len(found["AllergyIntolerance"]) == 12
    # Chunks of care relationships never split a patient: one CareTeam per patient and team.
    teams = sorted((item["subject"]["reference"], item["id"]) for item in found["CareTeam"])
    assert len(teams) == len(set(teams)) == 12 + 1 + 2


def test_encounter_rows_keep_their_campus_in_one_query(world: World) -> None:
    visit = make_visit(world.alice)
    Encounter.objects.filter(pk=visit.pk).update(campus=world.campus)
    found = run(queue(make_service(all_patients=True), ["Encounter"]))
    assert found["Encounter"][0]["serviceProvider"]["reference"] == f"Organization/campus-{world.campus.pk}"
