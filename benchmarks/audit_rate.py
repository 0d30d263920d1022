"""How many audit events a second the chain takes, from one or several processes at once.

    python -m benchmarks.audit_rate --processes 1 2 4 8 --seconds 10

Every audited read appends one event to a single hash chain, holding the chain head's row
lock from reading the last hash to committing the new one (portal/audit/log.py). However
many app servers there are, audited requests therefore pass that lock one at a time: this
measures where that ceiling is. Each process appends READ events for one patient in a
loop, in autocommit as a request does, for `--seconds`; the total over all processes is
reported per second. It writes real events into the benchmark database (its chain stays
valid: `portal audit verify`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

from benchmarks.environment import BENCH_DATA_DIR, configure


def append_for(seconds: float, start_at: float) -> int:
    """Append events from `start_at` for `seconds`; returns how many."""
    from portal.audit.actor import Actor
    from portal.audit.log import Kind, record
    from portal.patients.models import Patient

    patient = Patient.objects.filter(account__isnull=False).select_related("account").order_by("pk").first()
    if patient is None:
        raise SystemExit(
            "The benchmark database has no patient with a sign-in: run benchmarks.generate first."
        )
    actor = Actor(user=patient.account, client_ip="127.0.0.1", user_agent="benchmarks.audit_rate")
    while time.time() < start_at:
        time.sleep(0.001)
    appended, stop = 0, start_at + seconds
    while time.time() < stop:
        record(actor, "bench.audit_rate", kind=Kind.READ, patient=patient)
        appended += 1
    return appended


def _in_a_process(seconds: float, start_at: float) -> int:
    from django.db import connection

    connection.close()  # never the parent's connection, inherited through the fork
    try:
        return append_for(seconds, start_at)
    finally:
        connection.close()


def rate(processes: int, seconds: float) -> float:
    """Events a second over all `processes`, started together."""
    start_at = time.time() + 1.0  # every process set up and waiting before the clock starts
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        counts = pool.starmap(_in_a_process, [(seconds, start_at)] * processes)
    return sum(counts) / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--data-dir", type=Path, default=BENCH_DATA_DIR, help="the SQLite benchmark's directory"
    )
    args = parser.parse_args(argv)
    configure(args.data_dir)
    from django.db import connection

    connection.close()
    for processes in args.processes:
        print(
            f"{processes} process(es): {rate(processes, args.seconds):,.0f} audit events a second", flush=True
        )


if __name__ == "__main__":
    main()
