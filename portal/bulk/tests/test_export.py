"""Bulk data `$export`: kick-off checks, status polling, the manifest, file downloads, DELETE,
isolation between services, expiry, and the Group resource."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.operationoutcome import OperationOutcome

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_chain
from portal.bulk import export, tasks
from portal.bulk.models import BackendService, ExportFile, ExportJob, PatientGroup
from portal.bulk.tasks import run_export, sweep
from portal.bulk.tests.support import issue_system_token, make_service
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.records.models import ResultReport
from portal.records.tests.support import days_ago, make_note, make_panel
from portal.smart.tests.support import issue_token
from portal.test import World, make_patient

API = "/fhir/r4/"
KICK_OFF = {"HTTP_ACCEPT": "application/fhir+json", "HTTP_PREFER": "respond-async"}


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.PORTAL_BULK_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.PORTAL_BULK_EXPORT_DIR)


def call(method: str, path: str, token: str | None = None, **headers: Any) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    url = path if path.startswith("http") else API + path
    return getattr(Client(), method)(url, **extra, **headers)


def kick_off(path: str, token: str | None, **headers: Any) -> Any:
    return call("get", path, token, **(KICK_OFF | headers))


def outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/fhir+json")
    data: dict[str, Any] = response.json()
    OperationOutcome.model_validate(data)
    return data


def status_path(response: Any) -> str:
    assert response.status_code == 202, response.content[:500]
    location: str = response["Content-Location"]
    assert location.startswith("http://testserver/fhir/r4/bulk/status/")
    return location


def manifest(response: Any, token: str) -> dict[str, Any]:
    polled = call("get", status_path(response), token, HTTP_ACCEPT="application/json")
    assert polled.status_code == 200, polled.content[:500]
    assert polled["Content-Type"] == "application/json"
    assert polled["Expires"].endswith(" GMT")
    data: dict[str, Any] = polled.json()
    return data


def download(url: str, token: str) -> list[dict[str, Any]]:
    """Every line of one file, each validated as the R4B model of its type."""
    response = call("get", url, token, HTTP_ACCEPT="application/fhir+ndjson")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/fhir+ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    resources = [json.loads(line) for line in lines]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resources


def everything_in(data: dict[str, Any], token: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in data["output"]:
        resources = download(item["url"], token)
        assert len(resources) == item["count"]
        assert {resource["resourceType"] for resource in resources} == {item["type"]}
        found.setdefault(item["type"], []).extend(resources)
    return found


def subjects(resources: list[dict[str, Any]]) -> set[str]:
    """The patients resources are about (their own id for Patient)."""
    found = set()
    for resource in resources:
        if resource["resourceType"] == "Patient":
            found.add(f"Patient/{resource['id']}")
        for key in ("subject", "patient", "beneficiary"):
            if key in resource:
                found.add(resource[key]["reference"])
    return found


def ref(patient: Patient) -> str:
    return f"Patient/patient-{patient.pk}"


@pytest.fixture
def records(world: World) -> World:
    make_panel(world.alice, "Alice's panel")
    make_note(world.alice, "Alice's note")
    make_panel(world.bob, "Bob's panel")
    return world


@pytest.fixture
def everyone() -> BackendService:
    return make_service("Data warehouse", all_patients=True)


@pytest.fixture
def token(everyone: BackendService) -> str:
    return issue_system_token(everyone)


# Kick-off refusals -----------------------------------------------------------------------


def test_it_needs_a_system_token(world: World) -> None:
    outcome(kick_off("$export", None), 401)
    outcome(kick_off("Patient/$export", "not-a-token"), 401)
    patient_token = issue_token(world.alice_user, world.alice)
    outcome(kick_off("Patient/$export", patient_token), 401)
    outcome(kick_off("Group/group-1/$export", patient_token), 401)
    assert not ExportJob.objects.exists()


def test_it_needs_the_fhir_json_accept_header_and_respond_async(world: World, token: str) -> None:
    outcome(call("get", "Patient/$export", token, HTTP_PREFER="respond-async"), 400)
    outcome(kick_off("Patient/$export", token, HTTP_ACCEPT="application/xml"), 400)
    outcome(kick_off("Patient/$export", token, HTTP_PREFER=""), 400)
    outcome(kick_off("Patient/$export", token, HTTP_PREFER="return=minimal"), 400)
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "_type=Unicorn",
        "_type=Binary",
        "_since=yesterday",
        "_since=2026-01-01",
        "_since=2026-01-01T10:00:00",
        "_since=2026-02-30T10:00:00Z",
        "_since=2026-01-01T10:00:00Z&_since=2026-01-02T10:00:00Z",
        "_since=9999-12-31T23:59:59-14:00",
        "_since=0001-01-01T00:00:00+14:00",
        "_outputFormat=text/csv",
        "_typeFilter=Observation%3Fstatus%3Dfinal",
        "_elements=id",
        "patient=Patient/patient-1",
    ],
)
def test_it_refuses_what_it_cannot_do(world: World, token: str, query: str) -> None:
    outcome(kick_off(f"Patient/$export?{query}", token), 400)
    assert not ExportJob.objects.exists()


def test_a_type_outside_the_tokens_scopes_is_forbidden(world: World, everyone: BackendService) -> None:
    narrow = issue_system_token(everyone, "system/Observation.read system/Patient.rs")
    outcome(kick_off("$export?_type=Observation,Condition", narrow), 403)
    granular = issue_system_token(everyone, "system/Observation.rs?category=laboratory")
    outcome(kick_off("$export?_type=Observation", granular), 403)
    assert not ExportJob.objects.exists()
    # Without _type the export is of the types the scopes cover.
    status_path(kick_off("$export", narrow))
    assert ExportJob.objects.get().types == "Observation Patient"


def test_only_a_service_allowed_every_patient_exports_the_system(world: World) -> None:
    group = PatientGroup.objects.create(name="Rochester", campus=world.campus)
    service = make_service(groups=[group])
    outcome(kick_off("$export", issue_system_token(service)), 403)
    assert not ExportJob.objects.exists()


def test_a_group_not_allowed_is_the_same_404_as_a_missing_one(world: World) -> None:
    mine = PatientGroup.objects.create(name="Rochester", campus=world.campus)
    theirs = PatientGroup.objects.create(name="Family medicine", care_team=world.care_team)
    token = issue_system_token(make_service(groups=[mine]))
    refused = outcome(kick_off(f"Group/group-{theirs.pk}/$export", token), 404)
    missing = outcome(kick_off("Group/group-99999/$export", token), 404)
    assert refused["issue"][0]["code"] == missing["issue"][0]["code"] == "not-found"
    outcome(kick_off(f"Group/{mine.pk}/$export", token), 404)  # ids are "group-<n>"
    assert not ExportJob.objects.exists()


def test_unsupported_parameters_are_ignored_and_reported_when_lenient(records: World, token: str) -> None:
    response = kick_off(
        "Patient/$export?_type=Patient,Unicorn&_elements=id",
        token,
        HTTP_PREFER="respond-async, handling=lenient",
    )
    data = manifest(response, token)
    assert [item["type"] for item in data["output"]] == ["Patient"]
    [report] = data["error"]
    warnings = download(report["url"], token)
    texts = " ".join(issue["diagnostics"] for item in warnings for issue in item["issue"])
    assert "Unicorn" in texts and "_elements" in texts


def test_a_service_may_have_three_exports_under_way(
    world: World, everyone: BackendService, token: str
) -> None:
    for _ in range(3):
        ExportJob.objects.create(
            service=everyone, level=ExportJob.Level.SYSTEM, types="Patient", request_url="x"
        )
    refused = call("get", "$export", token, **KICK_OFF)
    outcome(refused, 429)
    assert int(refused["Retry-After"]) > 0
    assert ExportJob.objects.count() == 3
    # Another service is not held up by this one's exports.
    status_path(kick_off("$export", issue_system_token(make_service("Other", all_patients=True))))


# The whole flow ----------------------------------------------------------------------------


def test_a_group_export_from_kick_off_to_download(records: World) -> None:
    world = records
    group = PatientGroup.objects.create(name="Family medicine", care_team=world.care_team)
    service = make_service(groups=[group])
    token = issue_system_token(service)
    response = kick_off(f"Group/group-{group.pk}/$export?_outputFormat=application/fhir%2Bndjson", token)
    data = manifest(response, token)
    assert data["requiresAccessToken"] is True
    assert data["request"].endswith(
        f"/fhir/r4/Group/group-{group.pk}/$export?_outputFormat=application/fhir%2Bndjson"
    )
    assert data["error"] == []
    job = ExportJob.objects.get()
    assert job.started_at is not None
    assert data["transactionTime"] == job.started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    found = everything_in(data, token)
    assert {
        "Patient",
        "Observation",
        "DiagnosticReport",
        "DocumentReference",
        "CareTeam",
        "Practitioner",
    } <= set(found)
    assert "Binary" not in found
    # Alice is in the care team's care; Bob is not.
    everyone_in_it = set().union(*(subjects(resources) for resources in found.values()))
    assert everyone_in_it == {ref(world.alice)}
    assert [item["type"] for item in data["output"]] == sorted(item["type"] for item in data["output"])


def test_the_status_says_how_far_a_running_export_got(
    world: World, everyone: BackendService, token: str
) -> None:
    job = ExportJob.objects.create(
        service=everyone, level=ExportJob.Level.SYSTEM, types="Patient", request_url="x"
    )
    polled = call("get", f"bulk/status/{job.pk}", token)
    assert polled.status_code == 202
    assert polled["X-Progress"] == "Queued"
    assert int(polled["Retry-After"]) > 0
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, progress="Observation (3 of 14 types)"
    )
    assert call("get", f"bulk/status/{job.pk}", token)["X-Progress"] == "Observation (3 of 14 types)"


def test_a_failed_export_is_a_500_operation_outcome(
    world: World, everyone: BackendService, token: str
) -> None:
    job = ExportJob.objects.create(
        service=everyone,
        level=ExportJob.Level.SYSTEM,
        types="Patient",
        request_url="x",
        status="failed",
        error="It broke.",
    )
    data = outcome(call("get", f"bulk/status/{job.pk}", token), 500)
    assert data["issue"][0]["diagnostics"] == "It broke."


def test_an_export_that_raises_fails_cleanly(
    records: World, token: str, monkeypatch: pytest.MonkeyPatch, _exports_in_tmp: Path
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "audit_export", broken)
    response = kick_off("$export", token)
    data = outcome(call("get", status_path(response), token), 500)
    assert "disk on fire" not in json.dumps(data)
    assert not ExportFile.objects.exists()
    assert not any(_exports_in_tmp.rglob("*.ndjson"))


def test_a_suspended_service_is_refused_and_its_queued_export_fails(
    world: World, everyone: BackendService, token: str
) -> None:
    job = ExportJob.objects.create(
        service=everyone, level=ExportJob.Level.SYSTEM, types="Patient", request_url="x"
    )
    BackendService.objects.filter(pk=everyone.pk).update(status=BackendService.Status.SUSPENDED)
    assert run_export.call(job.pk) == ExportJob.Status.FAILED
    outcome(call("get", f"bulk/status/{job.pk}", token), 401)


# DELETE, isolation, expiry ------------------------------------------------------------------


def test_delete_cancels_and_removes_the_files(records: World, token: str, _exports_in_tmp: Path) -> None:
    location = status_path(kick_off("$export", token))
    data = manifest(kick_off("$export?_type=Patient", token), token)
    assert any(_exports_in_tmp.rglob("*.ndjson"))
    deleted = call("delete", location, token)
    assert deleted.status_code == 202
    outcome(call("get", location, token), 404)
    outcome(call("delete", location, token), 404)
    job = ExportJob.objects.order_by("pk").first()
    assert job is not None and job.status == ExportJob.Status.CANCELLED
    assert not job.files.exists()
    assert not export.job_directory(job).exists()
    # The other export is untouched.
    assert download(data["output"][0]["url"], token)


def test_another_service_cannot_see_the_job_or_its_files(records: World, token: str) -> None:
    response = kick_off("$export", token)
    data = manifest(response, token)
    location = status_path(response)
    other = issue_system_token(make_service("Other", all_patients=True))
    outcome(call("get", location, other), 404)
    outcome(call("delete", location, other), 404)
    for item in data["output"]:
        outcome(call("get", item["url"], other), 404)
    outcome(call("get", data["output"][0]["url"]), 401)
    assert ExportJob.objects.get().status == ExportJob.Status.COMPLETE


def test_a_file_needs_a_token_covering_its_type(records: World, everyone: BackendService, token: str) -> None:
    data = manifest(kick_off("$export?_type=Patient,Observation", token), token)
    only_patients = issue_system_token(everyone, "system/Patient.read")
    urls = {item["type"]: item["url"] for item in data["output"]}
    assert download(urls["Patient"], only_patients)
    outcome(call("get", urls["Observation"], only_patients), 403)


def test_expired_exports_are_swept_with_their_files(
    records: World, token: str, _exports_in_tmp: Path
) -> None:
    response = kick_off("$export", token)
    data = manifest(response, token)
    job = ExportJob.objects.get()
    assert job.expires_at is not None
    assert abs(job.expires_at - job.finished_at - dt.timedelta(hours=24)) < dt.timedelta(seconds=1)  # type: ignore[operator]
    assert sweep(job.expires_at - dt.timedelta(minutes=1)) == {"failed": 0, "deleted": 0}
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    outcome(call("get", status_path(response), token), 404)
    outcome(call("get", data["output"][0]["url"], token), 404)
    call_command("bulk_sweep", stdout=io.StringIO())
    assert not ExportJob.objects.exists()
    assert not ExportFile.objects.exists()
    assert not any(_exports_in_tmp.rglob("*.ndjson"))


def test_a_completed_export_queues_the_sweep_for_when_it_expires(
    records: World, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[dt.datetime] = []

    class Deferring:
        supports_defer = True

    class Sweep:
        """The sweep task on a backend that can run a task later."""

        def get_backend(self) -> Deferring:
            return Deferring()

        def using(self, run_after: dt.datetime) -> Sweep:
            queued.append(run_after)
            return self

        def enqueue(self) -> None:
            pass

    monkeypatch.setattr(tasks, "sweep_exports", Sweep())
    manifest(kick_off("$export?_type=Patient", token), token)
    job = ExportJob.objects.get()
    assert job.expires_at is not None
    assert queued == [job.expires_at + dt.timedelta(minutes=1)]


def test_the_sweep_fails_an_export_a_dead_worker_left(world: World, everyone: BackendService) -> None:
    job = ExportJob.objects.create(
        service=everyone, level=ExportJob.Level.SYSTEM, types="Patient", request_url="x"
    )
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    assert sweep(timezone.now() + dt.timedelta(hours=23))["failed"] == 0
    assert sweep(timezone.now() + dt.timedelta(hours=25))["failed"] == 1
    assert ExportJob.objects.get().status == ExportJob.Status.FAILED


# Audit -----------------------------------------------------------------------------------


def test_each_exported_patient_sees_the_service_in_their_access_log(records: World, token: str) -> None:
    world = records
    before = AuditEvent.objects.count()
    manifest(kick_off("$export", token), token)
    events = AuditEvent.objects.filter(action="bulk.export")
    assert sorted(events.values_list("patient_id", flat=True)) == sorted(
        Patient.objects.values_list("pk", flat=True)
    )
    assert AuditEvent.objects.count() == before + events.count()
    assert {event.actor_label for event in events} == {"Data warehouse"}
    assert verify_chain()[1] == []
    client = Client()
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log"))
    assert page.status_code == 200
    assert b"Data warehouse" in page.content
    assert b"exported the record" in page.content


def test_an_export_of_shared_resources_only_audits_nobody(records: World, token: str) -> None:
    manifest(kick_off("$export?_type=Practitioner,Location", token), token)
    assert not AuditEvent.objects.filter(action="bulk.export").exists()


# Group resource ------------------------------------------------------------------------------


def test_a_service_reads_and_searches_its_groups(world: World) -> None:
    other_campus = Campus.objects.create(
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
    make_patient("10000003", "Carl", "Coast", other_campus)
    rochester = PatientGroup.objects.create(name="Rochester patients", campus=world.campus)
    family = PatientGroup.objects.create(name="Family medicine", care_team=world.care_team)
    PatientGroup.objects.create(name="Jacksonville", campus=other_campus)
    token = issue_system_token(make_service(groups=[rochester, family]))
    read = call("get", f"Group/group-{rochester.pk}", token)
    assert read.status_code == 200, read.content
    group = read.json()
    Group.model_validate(group)
    assert (group["type"], group["actual"], group["quantity"], group["name"]) == (
        "person",
        True,
        2,
        "Rochester patients",
    )
    found = call("get", "Group", token).json()
    Bundle.model_validate(found)
    assert [(entry["resource"]["name"], entry["resource"]["quantity"]) for entry in found["entry"]] == [
        ("Family medicine", 1),
        ("Rochester patients", 2),
    ]
    named = call("get", "Group?name=fam", token).json()
    assert [entry["resource"]["id"] for entry in named["entry"]] == [f"group-{family.pk}"]


def test_a_patient_token_sees_no_group(world: World) -> None:
    group = PatientGroup.objects.create(name="Rochester patients", campus=world.campus)
    patient_token = issue_token(world.alice_user, world.alice)
    outcome(call("get", f"Group/group-{group.pk}", patient_token), 401)
    outcome(call("get", "Group", patient_token), 401)
    other = issue_system_token(make_service())
    outcome(call("get", f"Group/group-{group.pk}", other), 404)
    assert call("get", "Group", other).json().get("entry", []) == []


def test_the_capability_statement_lists_group_and_export() -> None:
    data = Client().get(API + "metadata").json()
    CapabilityStatement.model_validate(data)
    rest = data["rest"][0]
    assert [op["name"] for op in rest["operation"]] == ["export"]
    by_type = {resource["type"]: resource for resource in rest["resource"]}
    assert [op["name"] for op in by_type["Group"]["operation"]] == ["export"]
    assert "export" in [op["name"] for op in by_type["Patient"]["operation"]]


def test_a_held_report_is_not_exported_until_released(records: World, token: str) -> None:
    world = records
    make_panel(world.alice, "Held panel", available_at=timezone.now() + dt.timedelta(days=2))
    data = manifest(kick_off("$export?_type=DiagnosticReport", token), token)
    names = {resource["code"].get("text") for resource in everything_in(data, token)["DiagnosticReport"]}
    assert "Held panel" not in names
    assert ResultReport.objects.filter(name="Held panel", available_at__gt=days_ago(0)).exists()
