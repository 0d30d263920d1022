"""CPU per request, the app's and PostgreSQL's, on the load test's pages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python -m benchmarks.request_cpu [--requests 60]

The load test says how many requests a second the machine serves; this says where each
request's CPU goes. One patient drawn as the load test draws them asks for each page
`--requests` times through Django's test client in this process, one after the other.
For each page it prints the CPU time this process spent per request, and, when
PostgreSQL runs on this machine, the CPU time its server process for our connection
spent (read from /proc; the tool turns the pool off and keeps its one connection
throughout). Set `DATABASE_PREPARED_STATEMENTS=false` to compare without prepared
statements.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.environment import configure

WARMUP = 5


@dataclass(frozen=True)
class PageCpu:
    page: str
    app_ms: float
    database_ms: float | None
    queries: float


def server_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float | None:
    """User plus system CPU of a process on this machine, or None if it is not here."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_mix_pages(get: Callable[[str], str]) -> dict[str, str]:
    """The pages the load test's patients read, found the way they find them."""
    from benchmarks.load.generator import CAMPUS, RESULT_LINK, THREAD_LINK, VISIT_TYPE

    result = RESULT_LINK.findall(get("/record/results/"))[0]
    thread = THREAD_LINK.findall(get("/messages/"))[0]
    visit_type = VISIT_TYPE.findall(get("/appointments/book/"))[0]
    campuses = CAMPUS.findall(get(f"/appointments/book/?visit_type={visit_type}")) or [""]
    return {
        "dashboard": "/",
        "results": "/record/results/",
        "result": f"/record/results/{result}/",
        "messages": "/messages/",
        "thread": f"/messages/{thread}/",
        "booking start": f"/appointments/book/?visit_type={visit_type}",
        "booking times": f"/appointments/book/times/?visit_type={visit_type}&campus={campuses[0]}&clinician=",
    }


def measure(requests: int) -> list[PageCpu]:
    from django.db import connection
    from django.test import Client

    from benchmarks.load.accounts import candidates
    from portal.patients.models import Patient

    account = Patient.objects.select_related("account").get(pk=candidates()[0]).account
    assert account is not None  # candidates() draws only patients with a sign-in
    client = Client()
    client.force_login(account)

    def get(path: str) -> str:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        return response.content.decode()

    backend_pid = _backend_pid(connection)
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    results = []
    for page, path in load_mix_pages(get).items():
        for _ in range(WARMUP):
            get(path)
        queries = 0
        database_before = server_cpu_seconds(backend_pid) if backend_pid else None
        app_before = time.process_time()
        with connection.execute_wrapper(count):
            for _ in range(requests):
                get(path)
        app_ms = (time.process_time() - app_before) / requests * 1000
        database_after = server_cpu_seconds(backend_pid) if backend_pid else None
        database_ms = (
            (database_after - database_before) / requests * 1000
            if database_before is not None and database_after is not None
            else None
        )
        if _backend_pid(connection) != backend_pid:
            raise SystemExit(
                "the database connection changed while measuring; PostgreSQL's CPU would be wrong"
            )
        results.append(PageCpu(page, app_ms, database_ms, queries / requests))
    return results


def _backend_pid(connection: Any) -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def report(results: list[PageCpu]) -> list[str]:
    lines = [f"{'page':15s} {'app CPU ms':>10s} {'PostgreSQL CPU ms':>18s} {'queries':>8s}"]
    for result in results:
        database = f"{result.database_ms:.1f}" if result.database_ms is not None else "n/a"
        lines.append(f"{result.page:15s} {result.app_ms:10.1f} {database:>18s} {result.queries:8.1f}")
    app_total = sum(result.app_ms for result in results)
    database_values = [result.database_ms for result in results if result.database_ms is not None]
    database_total = f"{sum(database_values):.1f}" if len(database_values) == len(results) else "n/a"
    lines.append(f"{f'all {len(results)}':15s} {app_total:10.1f} {database_total:>18s}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.request_cpu")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    # One connection for the whole run, so its server process's CPU is ours alone.
    os.environ["DATABASE_POOL"] = "false"
    os.environ["CONN_MAX_AGE"] = "3600"
    configure()
    for line in report(measure(args.requests)):
        print(line)


if __name__ == "__main__":
    main()
