"""Bulk data `$export` throughput and memory on the benchmark organisation.

    python -m benchmarks.bulk_export                    # every patient (system level)
    python -m benchmarks.bulk_export --campus rochester # one campus's patients (a Group)
    python -m benchmarks.bulk_export --campus rochester --tracemalloc   # Python heap peak too

Runs one export job the way `portal worker` does (the task, in this process) against the
benchmark database, and reports resources per second, CPU time, and the process's
resident memory sampled through the run (flat memory: the late samples are no higher
than the early ones). The job is a real one: its files are written under a temporary
directory (deleted afterwards unless --keep), and each exported patient gets the audit
event an export writes. Run `python manage.py migrate` against the benchmark database
first (see docs/benchmarks.md) if it was generated before the bulk tables existed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from benchmarks.environment import BENCH_DATA_DIR, configure

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.5


def resident_bytes(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):  # the process ended between listing and reading
        return 0


def children() -> list[int]:
    """This process's child processes (the export's shards when it uses several)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.append(int(entry))
    return found


@dataclass
class MemorySamples:
    """Resident memory of this process and its children every SAMPLE_SECONDS (a background thread)."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    largest: int = 0  # the largest single process seen
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            each = [resident_bytes(), *(resident_bytes(pid) for pid in children())]
            self.largest = max(self.largest, *each)
            self.samples.append((time.monotonic() - start, sum(each)))
            self.stop.wait(SAMPLE_SECONDS)

    def at(self, fraction: float) -> int:
        return self.samples[min(len(self.samples) - 1, int(fraction * len(self.samples)))][1]


@contextmanager
def sampling() -> Iterator[MemorySamples]:
    memory = MemorySamples()
    thread = threading.Thread(target=memory.run, daemon=True)
    thread.start()
    try:
        yield memory
    finally:
        memory.stop.set()
        thread.join()


def megabytes(value: float) -> str:
    return f"{value / 1024 / 1024:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campus", help="export one campus's patients (its slug) as a Group, not everyone")
    parser.add_argument("--types", default="", help="comma-separated types (default: every exportable type)")
    parser.add_argument(
        "--data-dir", type=Path, default=BENCH_DATA_DIR, help="the benchmark's data directory"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the NDJSON files (their directory is printed)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes to split the patients between (PORTAL_BULK_EXPORT_PROCESSES)",
    )
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args(argv)

    output = Path(tempfile.mkdtemp(prefix="bulk-export-"))
    os.environ["PORTAL_BULK_EXPORT_DIR"] = str(output)
    os.environ["PORTAL_BULK_EXPORT_PROCESSES"] = str(args.processes)
    configure(args.data_dir)

    from django.db.models import Sum

    from portal.bulk import export
    from portal.bulk.models import BackendService, ExportJob, PatientGroup
    from portal.bulk.sources import exportable
    from portal.bulk.tasks import run_export
    from portal.organization.models import Campus
    from portal.patients.models import Patient

    service, _created = BackendService.objects.get_or_create(
        name="Benchmark warehouse", defaults={"all_patients": True, "jwks": {"keys": []}}
    )
    types = [name.strip() for name in args.types.split(",") if name.strip()] or list(exportable())
    job = ExportJob(service=service, types=" ".join(types), request_url="http://bench/fhir/r4/$export")
    if args.campus:
        campus = Campus.objects.get(slug=args.campus)
        group, _created = PatientGroup.objects.get_or_create(name=f"Benchmark: {campus.name}", campus=campus)
        job.level, job.group = ExportJob.Level.GROUP, group
        patients = Patient.objects.filter(primary_campus=campus).count()
    else:
        job.level = ExportJob.Level.SYSTEM
        patients = Patient.objects.count()
    job.save()

    started: dict[str, float] = {}
    type_started = export._Progress.type_started

    def timed(progress: export._Progress, name: str, position: int) -> None:
        started[name] = time.monotonic()
        type_started(progress, name, position)

    export._Progress.type_started = timed  # type: ignore[method-assign,assignment]
    audit = export.audit_export

    def timed_audit(job: ExportJob, patient_ids: Any) -> int:
        started["(audit events)"] = time.monotonic()
        return audit(job, patient_ids)

    export.audit_export = timed_audit
    print(
        f"Exporting {patients:,} patients ({job.get_level_display()}) in {args.processes} process(es), "
        f"types: {', '.join(types)}",
        flush=True,
    )
    if args.tracemalloc:
        tracemalloc.start()
    cpu_before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    with sampling() as memory:
        start = time.monotonic()
        outcome = run_export.call(job.pk)
        elapsed = time.monotonic() - start
    cpu_after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else 0
    job.refresh_from_db()
    if outcome != ExportJob.Status.COMPLETE:
        print(f"The export ended {outcome}: {job.error}", file=sys.stderr)
        shutil.rmtree(output, ignore_errors=True)
        return 1

    count = job.files.aggregate(total=Sum("count"))["total"] or 0
    size = job.files.aggregate(total=Sum("size"))["total"] or 0
    cpu = sum(
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    marks = [*sorted(started.items(), key=lambda item: item[1]), ("", start + elapsed)]
    if args.processes == 1:  # the shards' own progress is not seen from here
        print("\nPer type (rows, seconds, resources/s):")
    for (name, began), (_next, ended) in pairwise(marks if args.processes == 1 else []):
        rows = job.files.filter(resource_type=name).aggregate(total=Sum("count"))["total"] or 0
        rows = patients if name == "(audit events)" else rows
        seconds = ended - began
        print(f"  {name:<20} {rows:>10,} {seconds:>8.1f} s {rows / seconds if seconds else 0:>10,.0f}/s")
    print(f"\nResources:        {count:,} in {job.files.count()} files ({megabytes(size)} of NDJSON)")
    print(f"Patients audited: {patients:,}")
    print(f"Wall time:        {elapsed:,.1f} s  ->  {count / elapsed:,.0f} resources/s")
    print(
        f"CPU time:         {cpu:,.1f} s (all processes; SQLite runs in them) -> {count / cpu:,.0f} resources/CPU-s"
    )
    print(
        f"Resident memory:  {megabytes(memory.at(0.1))} at 10%, {megabytes(memory.at(0.5))} at 50%, "
        f"{megabytes(memory.at(0.9))} at 90% (all processes); peak {megabytes(max(rss for _t, rss in memory.samples))}; "
        f"largest process {megabytes(memory.largest)}"
    )
    if args.tracemalloc:
        print(f"Python heap peak: {megabytes(traced_peak)} (tracemalloc)")
    if args.keep:
        print(f"Files kept in {output}")
    else:
        export.remove_files(job)
        shutil.rmtree(output, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
