"""Writing one `$export` job: every requested type's resources as NDJSON files, in constant memory.

Each type's rows come from `sources.py` as one queryset over all member patients, read with
`.iterator(chunk_size=CHUNK)` (a server-side cursor on PostgreSQL, `fetchmany` on SQLite),
so memory holds one chunk whatever the export's size. Per chunk, the patients of its rows
are loaded in one query (the mappers need each row's patient for its references and its
campus's time zone) and DiagnosticReport's values in one more (prefetch per chunk): the
export's query count grows with chunks, never with rows. Lines go straight to a buffered
file, a new one every `PORTAL_BULK_EXPORT_FILE_RESOURCES` resources.

Between chunks the worker writes its progress with a conditional UPDATE; when that finds
the job no longer running (the client cancelled it, or the sweep gave up on it), the worker
stops and removes what it wrote. The patients whose records went into the export are
audited once each when it completes (a cancelled or failed export was never readable).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.utils import timezone

from portal.audit.log import append_events
from portal.audit.models import AuditEvent
from portal.bulk import groups
from portal.bulk.models import ExportFile, ExportJob
from portal.bulk.sources import Part, Window, exportable
from portal.fhir.api.auth import ApiGrant
from portal.patients.access import PatientAccess, Role
from portal.patients.models import ALL_SCOPES, Patient
from portal.smart.scopes import Scopes

log = logging.getLogger(__name__)
CHUNK = 2000
# Progress is written (and cancellation noticed) at least this often, in resources.
PROGRESS_EVERY = 20_000
AUDIT_BATCH = 1000
NDJSON = "application/fhir+ndjson"


class Cancelled(Exception):
    """The job stopped running while being written (cancelled by its client, or swept)."""


def export_root() -> Path:
    return Path(settings.PORTAL_BULK_EXPORT_DIR)


def job_directory(job: ExportJob) -> Path:
    return export_root() / f"job-{job.pk}"


def remove_files(job: ExportJob) -> None:
    """Delete a job's files and their rows (cancelled, failed or expired jobs)."""
    shutil.rmtree(job_directory(job), ignore_errors=True)
    ExportFile.objects.filter(job=job).delete()


def membership(job: ExportJob, today: dt.date) -> groups.Membership:
    if job.level == ExportJob.Level.GROUP:
        # A job without its group (never made by a kick-off) exports nobody rather than everybody.
        return groups.members(job.group, today) if job.group is not None else Patient.objects.none()
    if job.level == ExportJob.Level.PATIENT:
        return groups.patients_of(job.service, today)
    return None


def still_allowed(job: ExportJob) -> bool:
    """The service may still make this export (suspended, or its group taken away, it may not)."""
    service = job.service
    if not service.is_active:
        return False
    if job.level == ExportJob.Level.SYSTEM:
        return service.all_patients
    if job.level == ExportJob.Level.GROUP:
        return job.group_id is not None and groups.groups_of(service).filter(pk=job.group_id).exists()
    return True


def write_job(job: ExportJob) -> list[ExportFile]:
    """Write every requested type's files for a RUNNING job; raises Cancelled if it stops running."""
    started = job.started_at or timezone.now()
    window = Window(membership(job, timezone.localdate(started)), started, job.since)
    kinds = exportable()
    names = [name for name in job.types.split() if name in kinds]
    progress = _Progress(job, len(names))
    written: list[ExportFile] = []
    directory = job_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    for position, name in enumerate(names, start=1):
        progress.type_started(name, position)
        with _Files(job, directory, name) as files:
            for part in kinds[name]:
                for resource in _resources(part, window, progress):
                    files.write(resource)
        written += files.done
    return written


def _resources(part: Part, window: Window, progress: _Progress) -> Iterator[bytes]:
    """One part's resources as NDJSON lines, a chunk of rows at a time."""
    source = part.source
    rows: Iterator[Any] = window_rows(part, window)
    patients = _Patients()
    with timezone.override(timezone.get_current_timezone()):  # restores the zone the rows switch
        for chunk in _chunks(rows, CHUNK):
            if source.patient_of is not None:
                patients.load({source.patient_of(row) for row in chunk})
            for row in chunk:
                grant = patients.grant(source.patient_of(row)) if source.patient_of is not None else None
                yield orjson.dumps(part.to_fhir(row, grant))
            progress.wrote(len(chunk))


def window_rows(part: Part, window: Window) -> Iterator[Any]:
    rows: Iterator[Any] = part.rows(window).iterator(chunk_size=CHUNK)
    return part.source.items(rows) if part.source.items is not None else rows


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(rows, size)):
        yield chunk


class _Patients:
    """The patients of the rows being written, with their campus, loaded a chunk at a time.

    The per-patient mappers take an `ApiGrant`; they read only its patient (references,
    and the campus's time zone their instants are written in). Each patient gets the grant
    of their own view, built without a query, and the zone is switched as rows move from
    one patient to the next, as the patient API's views do per request.
    """

    KEEP = 10_000  # grants kept between chunks; bounded so memory stays flat

    def __init__(self) -> None:
        self.grants: dict[int, ApiGrant] = {}
        self.zone = ""

    def load(self, patient_ids: set[int]) -> None:
        missing = patient_ids - self.grants.keys()
        if not missing:
            return
        if len(self.grants) + len(missing) > self.KEEP:
            self.grants.clear()  # start again with this chunk's patients only
            missing = patient_ids
        for patient in Patient.objects.filter(pk__in=missing).select_related("primary_campus"):
            self.grants[patient.pk] = own_view(patient)

    def grant(self, patient_id: int) -> ApiGrant:
        grant = self.grants[patient_id]
        zone = grant.patient.primary_campus.time_zone
        if zone != self.zone:
            timezone.activate(ZoneInfo(zone))
            self.zone = zone
        return grant


def own_view(patient: Patient) -> ApiGrant:
    """The grant of the patient's own view (every scope, nothing hidden) without an app behind it.

    Only the mappers see it; every row it maps was already chosen by `sources.py`.
    """
    access = PatientAccess(user=cast(Any, None), patient=patient, role=Role.SELF, scopes=ALL_SCOPES)
    return ApiGrant(access, cast(Any, None), Scopes())


class _Progress:
    """X-Progress for the status endpoint, written every PROGRESS_EVERY resources."""

    def __init__(self, job: ExportJob, types: int) -> None:
        self.job, self.types = job, types
        self.name, self.position, self.total, self.unsaved = "", 0, 0, 0

    def type_started(self, name: str, position: int) -> None:
        self.name, self.position = name, position
        self.save()

    def wrote(self, count: int) -> None:
        self.total += count
        self.unsaved += count
        if self.unsaved >= PROGRESS_EVERY:
            self.save()

    def save(self) -> None:
        self.unsaved = 0
        text = f"{self.name} ({self.position} of {self.types} types), {self.total:,} resources written"
        running = ExportJob.objects.filter(pk=self.job.pk, status=ExportJob.Status.RUNNING)
        if not running.update(progress=text[:100]):
            raise Cancelled


class _Files:
    """The NDJSON files of one type: a new file every PORTAL_BULK_EXPORT_FILE_RESOURCES lines."""

    def __init__(self, job: ExportJob, directory: Path, resource_type: str) -> None:
        self.job, self.directory, self.resource_type = job, directory, resource_type
        self.limit = max(1, int(settings.PORTAL_BULK_EXPORT_FILE_RESOURCES))
        self.handle: IO[bytes] | None = None
        self.path = directory
        self.count = self.size = 0
        self.done: list[ExportFile] = []

    def __enter__(self) -> _Files:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(keep=exc[0] is None)

    def write(self, line: bytes) -> None:
        if self.handle is None or self.count >= self.limit:
            self.close()
            sequence = len(self.done) + 1
            self.path = self.directory / f"{self.resource_type}-{sequence}.ndjson"
            self.handle = self.path.open("wb", buffering=1 << 20)
        self.handle.write(line)
        self.handle.write(b"\n")
        self.count += 1
        self.size += len(line) + 1

    def close(self, keep: bool = True) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.handle = None
        if keep:
            name = str(self.path.relative_to(export_root()))
            self.done.append(
                ExportFile.objects.create(
                    job=self.job,
                    resource_type=self.resource_type,
                    sequence=len(self.done) + 1,
                    name=name,
                    count=self.count,
                    size=self.size,
                )
            )
        self.count = self.size = 0


def audit_export(job: ExportJob, patient_ids: Iterable[int]) -> int:
    """One event per exported patient, in their access log as the service; returns how many.

    Appended in batches through `append_events`, which links each onto the hash chain
    under the chain head's lock, so the chain stays whole however many patients there are.
    """
    service = job.service
    detail = {"app": service.name[:100], "resource": "$export", "job": job.pk}
    batch: list[AuditEvent] = []
    count = 0
    for patient_id in patient_ids:
        batch.append(
            AuditEvent(
                occurred_at=timezone.now(),
                actor_id=None,
                actor_label=service.name[:200],
                actor_role=AuditEvent.ActorRole.APP,
                patient_id=patient_id,
                kind=AuditEvent.Kind.READ,
                action="bulk.export",
                object_type="bulk.exportjob",
                object_id=str(job.pk),
                detail=detail,
            )
        )
        if len(batch) >= AUDIT_BATCH:
            append_events(batch)
            count += len(batch)
            batch = []
    if batch:
        append_events(batch)
        count += len(batch)
    return count


def exported_patients(job: ExportJob) -> Iterator[int]:
    """The patients whose records the job wrote (none when it held only shared resources)."""
    kinds = exportable()
    if not any(part.source.patient_data for name in job.types.split() for part in kinds.get(name, ())):
        return iter(())
    members = membership(job, timezone.localdate(job.started_at or timezone.now()))
    patients = Patient.objects.all() if members is None else members
    return cast(
        Iterator[int], patients.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    )


def manifest_times(job: ExportJob) -> tuple[str, str]:
    """(transactionTime, Expires) as the manifest and its header write them."""
    started = job.started_at or job.requested_at
    instant = started.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expires = job.expires_at or started
    return instant, expires.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
