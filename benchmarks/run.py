"""Measure the benchmark pages and the patient API and record the results in docs/benchmarks.md.

    .venv/bin/python -m benchmarks.run [--requests 200] [--warmup 20] [--only pages|api]
                                       [--data-dir var/bench]

Run `python -m benchmarks.generate` first; this reads the same database. Each run's rows
name the organisation's size, and the scaling table compares the smallest and largest
organisations measured on the same day (`make bench` measures 1,000 and 100,000).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.environment import BENCH_DATA_DIR, ROOT, configure, uses_sqlite, warm_sqlite_database

DOCS = ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure pages as the heavy patient.")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the page to record results in")
    parser.add_argument(
        "--only", choices=("pages", "api"), help="measure only the pages, or only the patient API"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=BENCH_DATA_DIR, help="the SQLite benchmark's directory"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure(args.data_dir)
    if uses_sqlite():
        print(
            f"Read {warm_sqlite_database(args.data_dir) / 1e6:,.0f} MB of SQLite files into the cache first"
        )
    # Imported only now: the models need Django set up against the benchmark database.
    from django.utils import timezone

    from benchmarks.api import measure_api
    from benchmarks.measure import (
        RESULTS_END,
        RESULTS_START,
        database_note,
        machine_note,
        measure_all,
        record_results,
    )
    from benchmarks.scaling import record_scaling, size_label
    from portal.patients.models import Patient

    results = [] if args.only == "api" else measure_all(args.requests, args.warmup)
    if args.only != "pages":
        results += measure_api(args.requests, args.warmup)
    machine = machine_note()
    database = f"{database_note()}, {size_label(Patient.objects.count())}"
    for result in results:
        print(
            f"{result.page}: median {result.median_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
            f"{result.queries} queries; raw SQL {result.baseline_median_ms:.2f} ms in "
            f"{result.baseline_queries} queries; the page's {result.reads_queries} reads replayed "
            f"{result.reads_median_ms:.2f} ms ({database}; {machine})"
        )
    record_results(args.docs, results, timezone.now().date(), machine, database)
    results_table = args.docs.read_text(encoding="utf-8").split(RESULTS_START, 1)[1].split(RESULTS_END, 1)[0]
    for line in record_scaling(args.docs, results_table):
        print(line)
    print(f"Recorded in {args.docs}")


if __name__ == "__main__":
    main()
