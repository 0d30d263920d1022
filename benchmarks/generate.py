"""Generate the benchmark database.

    .venv/bin/python -m benchmarks.generate --patients 100000

SQLite: rebuilt from nothing under var/bench/ (or --data-dir) each time. PostgreSQL (DATABASE_URL): the
database must not already hold the benchmark's heavy patient; use a fresh database.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.environment import BENCH_DATA_DIR, configure, remove_sqlite_database, uses_sqlite
from benchmarks.sizes import Sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Sizes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=defaults.patients)
    parser.add_argument("--notifications", type=int, default=defaults.notifications)
    parser.add_argument("--tasks", type=int, default=defaults.tasks)
    parser.add_argument("--audit-events", type=int, default=defaults.audit_events)
    parser.add_argument("--years", type=int, default=defaults.years)
    parser.add_argument("--observations", type=int, default=defaults.observations)
    parser.add_argument("--record-years", type=int, default=defaults.record_years)
    parser.add_argument("--appointments", type=int, default=defaults.appointments)
    parser.add_argument("--appointment-share", type=float, default=defaults.appointment_share)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--messages", type=int, default=defaults.messages)
    parser.add_argument("--long-thread", type=int, default=defaults.long_thread)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--data-dir", type=Path, default=BENCH_DATA_DIR, help="where the SQLite benchmark database goes"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if uses_sqlite():
        remove_sqlite_database(args.data_dir)
    configure(args.data_dir)
    # Imported only now: the models need Django set up against the benchmark database.
    from django.core.management import call_command
    from django.utils import timezone

    from benchmarks.history import HEAVY_CLINIC_NUMBER, build
    from portal.patients.models import Patient

    call_command("migrate", interactive=False, verbosity=0)
    if Patient.objects.filter(clinic_number=HEAVY_CLINIC_NUMBER).exists():
        raise SystemExit("This database already holds a benchmark; point DATABASE_URL at a new one.")
    sizes = Sizes(
        args.patients,
        args.notifications,
        args.tasks,
        args.audit_events,
        args.years,
        args.observations,
        args.record_years,
        args.appointments,
        args.appointment_share,
        args.threads,
        args.messages,
        args.long_thread,
    )
    anchor = timezone.now().replace(microsecond=0)
    started = time.perf_counter()
    build(sizes, args.seed, anchor)
    where = args.data_dir if uses_sqlite() else "DATABASE_URL"
    print(f"Generated into {where} in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
