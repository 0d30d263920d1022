"""Measuring pages as the heavy patient, against a raw-SQL floor, and recording the results.

Server time is what Django spends from request to response through the test client:
no network, no browser. Each page also has a baseline: one cursor fetching the same
rows the page shows with hand-written SQL, which is roughly the least any
implementation could do. The gap between the two is the framework, the access policy,
the audit write and the template.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.history import HEAVY_USERNAME
from portal.accounts.models import User
from portal.notifications.models import Notification, Task
from portal.organization.models import Campus, CareTeam, OpeningHours, Practitioner
from portal.patients.models import CareRelationship, Patient

SHOWN_PLUS_ONE = 6  # cards show five and fetch a sixth to know there are more
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
HEADER = (
    "| date | machine | database | page | median ms | p95 ms | queries "
    "| baseline median ms | baseline queries |\n"
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
)
Baseline = Callable[[Any, Patient, User], int]


@dataclass(frozen=True)
class Page:
    """A page to measure and the raw SQL that fetches what it shows."""

    name: str
    path: str
    baseline: Baseline


@dataclass(frozen=True)
class Result:
    """One page's numbers."""

    page: str
    median_ms: float
    p95_ms: float
    queries: int
    baseline_median_ms: float
    baseline_queries: int


def dashboard_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The dashboard's rows in four statements; returns how many statements ran."""
    today = timezone.now().date()
    task, note = Task._meta.db_table, Notification._meta.db_table
    care, team = CareRelationship._meta.db_table, CareTeam._meta.db_table
    campus, hours = Campus._meta.db_table, OpeningHours._meta.db_table
    practitioner = Practitioner._meta.db_table
    statements: list[tuple[str, list[Any]]] = [
        (
            f"SELECT id, title, detail, link, due_on FROM {task} "
            "WHERE patient_id = %s AND completed_at IS NULL ORDER BY due_on, id LIMIT %s",
            [patient.pk, SHOWN_PLUS_ONE],
        ),
        (
            f"SELECT id, title, body, link, created_at FROM {note} "
            "WHERE recipient_id = %s AND patient_id = %s AND read_at IS NULL "
            "ORDER BY created_at DESC, id DESC LIMIT %s",
            [user.pk, patient.pk, SHOWN_PLUS_ONE],
        ),
        (
            f"SELECT r.id, t.name, t.phone, c.name, c.zone_label, p.given_name, "
            f"p.family_name, p.credentials, p.role FROM {care} r "
            f"JOIN {team} t ON t.id = r.care_team_id "
            f"LEFT JOIN {campus} c ON c.id = t.campus_id "
            f"LEFT JOIN {practitioner} p ON p.id = r.practitioner_id "
            "WHERE r.patient_id = %s AND r.starts_on <= %s "
            "AND (r.ends_on IS NULL OR r.ends_on >= %s) ORDER BY t.name",
            [patient.pk, today, today],
        ),
        (
            f"SELECT c.id, c.name, c.address_line, c.city, c.region, c.postal_code, "
            f"c.main_phone, c.appointments_phone, c.time_zone, c.zone_label, "
            f"h.service, h.weekday, h.opens, h.closes FROM {campus} c "
            f"LEFT JOIN {hours} h ON h.campus_id = c.id WHERE c.id = %s",
            [patient.primary_campus_id],
        ),
    ]
    for sql, params in statements:
        cursor.execute(sql, params)
        cursor.fetchall()
    return len(statements)


PAGES = [Page("dashboard", "/", dashboard_baseline)]


def measure_all(requests: int, warmup: int, username: str = HEAVY_USERNAME) -> list[Result]:
    user = User.objects.get(username=username)
    patient = Patient.objects.get(account=user)
    client = Client()
    client.force_login(user)
    return [measure(page, client, user, patient, requests, warmup) for page in PAGES]


def measure(page: Page, client: Client, user: User, patient: Patient, requests: int, warmup: int) -> Result:
    for _ in range(warmup):
        _get(client, page.path)
    with CaptureQueriesContext(connection) as captured:
        _get(client, page.path)
    # Counted now: the captured list is a view of the connection's log, which the next
    # request clears.
    queries = len(captured)
    # Timed apart from the query count: capturing queries has a cost of its own.
    samples = [_timed(lambda: _get(client, page.path)) for _ in range(requests)]
    baseline_queries = 0

    def baseline() -> None:
        nonlocal baseline_queries
        with connection.cursor() as cursor:
            baseline_queries = page.baseline(cursor, patient, user)

    for _ in range(warmup):
        baseline()
    baseline_samples = [_timed(baseline) for _ in range(requests)]
    return Result(
        page.name,
        statistics.median(samples),
        percentile(samples, 0.95),
        queries,
        statistics.median(baseline_samples),
        baseline_queries,
    )


def _get(client: Client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}; nothing to measure.")


def _timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    rank = max(math.ceil(fraction * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def machine_note() -> str:
    processor = _cpu_model() or platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} CPUs ({processor}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return ""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
    return re.sub(r"\s+", " ", match.group(1)).strip() if match else ""


def database_note() -> str:
    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        version = connection.pg_version  # type: ignore[attr-defined]
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return connection.vendor


def table_row(result: Result, day: dt.date, machine: str, database: str) -> str:
    cells = [
        day.isoformat(), machine, database, result.page,
        f"{result.median_ms:.1f}", f"{result.p95_ms:.1f}", str(result.queries),
        f"{result.baseline_median_ms:.2f}", str(result.baseline_queries),
    ]  # fmt: skip
    return "| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |"


def record_results(path: Path, results: list[Result], day: dt.date, machine: str, database: str) -> None:
    """Add this run's rows to the results table, replacing a same-day run on this setup."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if RESULTS_START not in text:
        text = f"{text.rstrip()}\n\n## Results\n\n{RESULTS_START}\n{HEADER}\n{RESULTS_END}\n"
    head, rest = text.split(RESULTS_START, 1)
    table, tail = rest.split(RESULTS_END, 1)
    rows = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    new_rows = [table_row(result, day, machine, database) for result in results]
    replaced = {_row_key(row) for row in new_rows}
    rows = [row for row in rows if _row_key(row) not in replaced] + new_rows
    body = "\n".join([HEADER, *rows])
    path.write_text(f"{head}{RESULTS_START}\n{body}\n{RESULTS_END}{tail}", encoding="utf-8")


def _row_key(row: str) -> tuple[str, ...]:
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    return tuple(cells[:4])  # date, machine, database, page
