"""Writing one `$export` job: every requested type's resources as NDJSON files, in constant memory.

Each type's rows come from `sources.py` as one queryset over all member patients, read in
keyset chunks of CHUNK rows (each chunk its own short query after the last one's key), so
memory holds one chunk whatever the export's size. Per chunk, the patients of its rows are
loaded in one query (the mappers need each row's patient for its references and its
campus's time zone) and DiagnosticReport's values in one more (prefetch per chunk): the
export's query count grows with chunks, never with rows. Lines go straight to a buffered
file, a new one every `PORTAL_BULK_EXPORT_FILE_RESOURCES` resources. With
`PORTAL_BULK_EXPORT_PROCESSES` above 1 the patients are divided between forked processes.

Between chunks the worker writes its progress with a conditional UPDATE; when that finds
the job no longer running (the client cancelled it, or the sweep gave up on it), the worker
stops and removes what it wrote. The patients whose records went into the export are
audited once each when it completes (a cancelled or failed export was never readable).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connections
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


def processes() -> int:
    return max(1, int(settings.PORTAL_BULK_EXPORT_PROCESSES))


def write_job(job: ExportJob) -> list[ExportFile]:
    """Write every requested type's files for a RUNNING job; raises Cancelled if it stops running.

    With PORTAL_BULK_EXPORT_PROCESSES above 1 the patients are split between that many
    processes (by patient id), each writing its own files: the mapping to FHIR is what
    costs, and one process uses one core.
    """
    shards = processes()
    written = write_shard(job, 0, 1) if shards == 1 else _in_processes(job, shards)
    return _record_files(job, written)


@dataclass(frozen=True)
class Written:
    """One file a shard wrote; its ExportFile row is made when the whole job is written."""

    resource_type: str
    name: str
    count: int
    size: int


def write_shard(job: ExportJob, shard: int, shards: int) -> list[Written]:
    """Write the files of the patients whose id is `shard` modulo `shards` (every patient for 1)."""
    started = job.started_at or timezone.now()
    window = Window(membership(job, timezone.localdate(started)), started, job.since, (shard, shards))
    kinds = exportable()
    names = [name for name in job.types.split() if name in kinds]
    progress = _Progress(job, len(names), f"part {shard + 1} of {shards}: " if shards > 1 else "")
    written: list[Written] = []
    directory = job_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    for position, name in enumerate(names, start=1):
        progress.type_started(name, position)
        stem = f"{name}-{shard + 1}" if shards > 1 else name
        with _Files(directory, name, stem) as files:
            for part in kinds[name]:
                for resource in _resources(part, window, progress):
                    files.write(resource)
        written += files.done
    return written


def _in_processes(job: ExportJob, shards: int) -> list[Written]:
    """Run the shards in child processes (forked: they inherit the set-up Django, not its connections)."""
    _disconnect()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=shards, mp_context=context) as pool:
        futures = [pool.submit(_shard_in_child, job.pk, shard, shards) for shard in range(shards)]
        done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.exception() is not None for future in done):
            # Stop the other shards at their next progress write, then let the error be raised.
            ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
                status=ExportJob.Status.FAILED
            )
        results = [future.result() for future in futures]
    if any(result is None for result in results):
        raise Cancelled
    return [item for result in results if result is not None for item in result]


def _shard_in_child(job_id: int, shard: int, shards: int) -> list[Written] | None:
    try:
        job = ExportJob.objects.select_related("service", "group").get(pk=job_id)
        return write_shard(job, shard, shards)
    except Cancelled:
        return None
    finally:
        _disconnect()


def _disconnect() -> None:
    """Close every connection and connection pool, so that none is shared across a fork.

    A psycopg pool's worker threads do not survive a fork, so a child using the parent's
    pool would wait for a connection forever; the parent opens a new pool when it next asks.
    """
    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


def _record_files(job: ExportJob, written: list[Written]) -> list[ExportFile]:
    """The files' rows, numbered per type in the order the types were asked for."""
    order = {name: position for position, name in enumerate(job.types.split())}
    files: list[ExportFile] = []
    sequence: dict[str, int] = {}
    for item in sorted(written, key=lambda item: (order.get(item.resource_type, len(order)), item.name)):
        sequence[item.resource_type] = sequence.get(item.resource_type, 0) + 1
        files.append(
            ExportFile(
                job=job,
                resource_type=item.resource_type,
                sequence=sequence[item.resource_type],
                name=item.name,
                count=item.count,
                size=item.size,
            )
        )
    return ExportFile.objects.bulk_create(files)


def _resources(part: Part, window: Window, progress: _Progress) -> Iterator[bytes]:
    """One part's resources as NDJSON lines, a chunk of rows at a time."""
    source = part.source
    patients = _Patients()
    with timezone.override(timezone.get_current_timezone()):  # restores the zone the rows switch
        for chunk in chunks(part, window):
            if source.patient_of is not None:
                patients.load({source.patient_of(row) for row in chunk})
            for row in chunk:
                grant = patients.grant(source.patient_of(row)) if source.patient_of is not None else None
                yield orjson.dumps(part.to_fhir(row, grant))
            progress.wrote(len(chunk))


def chunks(part: Part, window: Window) -> Iterator[list[Any]]:
    """A part's rows, CHUNK at a time, each chunk its own query after the last one's key.

    Keyset chunks rather than one long cursor: no read stays open while the worker writes
    its progress (on SQLite a connection reading since before another process's write
    cannot write at all; on PostgreSQL a cursor outside a transaction is materialised
    whole before its first row), and each query is a range of the primary key.
    """
    rows = part.rows(window)
    if part.source.items is not None:
        yield from _whole_patients(rows, part.source.items)
        return
    last: Any = None
    while True:
        chunk = list((rows if last is None else rows.filter(pk__gt=last))[:CHUNK])
        if chunk:
            yield chunk
        if len(chunk) < CHUNK:
            return
        last = chunk[-1].pk


def _whole_patients(rows: Any, items: Any) -> Iterator[list[Any]]:
    """Chunks of about CHUNK rows that never split a patient (CareTeam groups a patient's rows)."""
    last: int | None = None
    while True:
        page = rows if last is None else rows.filter(patient_id__gt=last)
        bound = list(page.order_by("patient_id").values_list("patient_id", flat=True)[CHUNK - 1 : CHUNK])
        chunk = list(items(iter(page.filter(patient_id__lte=bound[0]) if bound else page)))
        if chunk:
            yield chunk
        if not bound:
            return
        last = bound[0]


class _Patients:
    """The patients of the rows being written, with their campus, loaded a chunk at a time.

    The per-patient mappers take an `ApiGrant`; they read only its patient (references,
    and the campus's time zone their instants are written in). Each patient gets the grant
    of their own view, built without a query, and the zone is switched as rows move from
    one patient to the next, as the patient API's views do per request.
    """

    # Grants kept between chunks (a patient's rows are mostly adjacent in table order, so
    # the last chunks' patients are the ones asked again); bounded so memory stays flat.
    KEEP = 2 * CHUNK

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

    def __init__(self, job: ExportJob, types: int, prefix: str = "") -> None:
        self.job, self.types, self.prefix = job, types, prefix
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
        text = f"{self.prefix}{self.name} ({self.position} of {self.types} types), {self.total:,} resources written"
        running = ExportJob.objects.filter(pk=self.job.pk, status=ExportJob.Status.RUNNING)
        if not running.update(progress=text[:100]):
            raise Cancelled


class _Files:
    """The NDJSON files of one type: a new file every PORTAL_BULK_EXPORT_FILE_RESOURCES lines."""

    def __init__(self, directory: Path, resource_type: str, stem: str) -> None:
        self.directory, self.resource_type, self.stem = directory, resource_type, stem
        self.limit = max(1, int(settings.PORTAL_BULK_EXPORT_FILE_RESOURCES))
        self.handle: IO[bytes] | None = None
        self.path = directory
        self.count = self.size = 0
        self.done: list[Written] = []

    def __enter__(self) -> _Files:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, line: bytes) -> None:
        if self.handle is None or self.count >= self.limit:
            self.close()
            # Zero-padded, so the files of a type sort in the order they were written.
            self.path = self.directory / f"{self.stem}-{len(self.done) + 1:04d}.ndjson"
            self.handle = self.path.open("wb", buffering=1 << 20)
        self.handle.write(line)
        self.handle.write(b"\n")
        self.count += 1
        self.size += len(line) + 1

    def close(self) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.handle = None
        name = str(self.path.relative_to(export_root()))
        self.done.append(Written(self.resource_type, name, self.count, self.size))
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
    return _ids(Patient.objects.all() if members is None else members)


def _ids(patients: Any) -> Iterator[int]:
    # In keyset chunks, so no read is open while the audit events are written.
    last = 0
    while ids := list(patients.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK]):
        yield from ids
        last = ids[-1]


def manifest_times(job: ExportJob) -> tuple[str, str]:
    """(transactionTime, Expires) as the manifest and its header write them."""
    started = job.started_at or job.requested_at
    instant = started.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expires = job.expires_at or started
    return instant, expires.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
