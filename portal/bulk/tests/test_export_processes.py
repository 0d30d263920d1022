"""An export split between processes (PORTAL_BULK_EXPORT_PROCESSES): the same resources,
each written once, the patients divided by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from portal.bulk import export, sources
from portal.bulk.models import ExportJob
from portal.bulk.sources import exportable
from portal.bulk.tasks import run_export
from portal.bulk.tests.support import make_service
from portal.patients.models import CareRelationship
from portal.records.tests.support import make_allergy, make_note, make_panel, make_visit
from portal.test import World, make_patient


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.PORTAL_BULK_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.PORTAL_BULK_EXPORT_DIR)


def populate(world: World, count: int) -> None:
    for index in range(count):
        patient = make_patient(f"3{index:07d}", "Pat", f"Many{index}", world.campus)
        make_panel(patient)
        make_note(patient, author=world.clinician.practitioner)
        make_visit(patient, instructions="Rest.", practitioner=world.clinician.practitioner)
        make_allergy(patient)
        CareRelationship.objects.create(patient=patient, care_team=world.care_team)


def lines(written: list[export.Written]) -> list[tuple[str, str]]:
    found = []
    for item in written:
        for line in (export.export_root() / item.name).read_bytes().splitlines():
            resource = json.loads(line)
            found.append((resource["resourceType"], json.dumps(resource, sort_keys=True)))
    return found


def running_job(world: World) -> ExportJob:
    return ExportJob.objects.create(
        service=make_service(all_patients=True),
        level=ExportJob.Level.SYSTEM,
        types=" ".join(exportable()),
        request_url="http://testserver/fhir/r4/$export",
        status=ExportJob.Status.RUNNING,
        started_at=timezone.now(),
    )


def test_shards_divide_the_patients_and_write_shared_resources_once(world: World) -> None:
    populate(world, 7)
    job = running_job(world)
    whole = lines(export.write_shard(job, 0, 1))
    first, second = lines(export.write_shard(job, 0, 2)), lines(export.write_shard(job, 1, 2))
    assert sorted(first + second) == sorted(whole)
    assert not set(first) & set(second)
    shared = {"Practitioner", "Location", "Organization"}
    assert {kind for kind, _text in second} & shared == set()
    assert {kind for kind, _text in first} >= shared
    patients = {kind_text for kind_text in first + second if kind_text[0] == "Patient"}
    assert len(patients) == 9  # Alice, Bob and the seven
    assert {kind for kind, _text in first} >= {"Patient", "Observation"} <= {kind for kind, _text in second}


@pytest.mark.django_db(transaction=True)
def test_two_processes_write_the_export_one_process_would(world: World, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "forked processes need a database server, not the in-memory test database (runs on PostgreSQL)"
        )
    populate(world, 7)
    service = make_service(all_patients=True)

    def run(processes: int) -> list[tuple[str, str]]:
        settings.PORTAL_BULK_EXPORT_PROCESSES = processes
        job = ExportJob.objects.create(
            service=service, level=ExportJob.Level.SYSTEM, types=" ".join(exportable()), request_url="x"
        )
        assert run_export.call(job.pk) == ExportJob.Status.COMPLETE
        files = list(job.files.order_by("resource_type", "sequence"))
        observations = [file.sequence for file in files if file.resource_type == "Observation"]
        assert observations == list(range(1, processes + 1))  # a file from each process
        return lines([export.Written(file.resource_type, file.name, file.count, file.size) for file in files])

    assert sorted(run(2)) == sorted(run(1))


@pytest.mark.django_db(transaction=True)
def test_a_process_that_fails_fails_the_export_and_stops_the_others(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch, _exports_in_tmp: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "forked processes need a database server, not the in-memory test database (runs on PostgreSQL)"
        )
    populate(world, 4)
    settings.PORTAL_BULK_EXPORT_PROCESSES = 2
    original = sources.Part.to_fhir

    def broken_for_odd_patients(part: sources.Part, row: Any, grant: Any) -> dict[str, Any]:
        if getattr(row, "patient_id", 0) % 2:
            raise RuntimeError("a mapping bug")
        return original(part, row, grant)

    monkeypatch.setattr(sources.Part, "to_fhir", broken_for_odd_patients)
    job = ExportJob.objects.create(
        service=make_service(all_patients=True),
        level=ExportJob.Level.SYSTEM,
        types="Observation",
        request_url="x",
    )
    assert run_export.call(job.pk) == ExportJob.Status.FAILED
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error and job.expires_at is not None
    assert not job.files.exists()
    assert not any(_exports_in_tmp.rglob("*.ndjson"))
