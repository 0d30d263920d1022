"""Measuring pages as the heavy patient (and staff pages as their clinician), against a
raw-SQL floor, and recording the results.

Server time is what Django spends from request to response through the test client:
no network, no browser. Each page also has a baseline: one cursor fetching the same
rows the page shows with hand-written SQL, which is roughly the least any
implementation could do. The gap between the two is the framework, the access policy,
the audit write and the template. To tell the database's share apart, the page's own
reads (every SELECT one request ran, sessions and access checks included) are replayed
on a bare cursor and timed the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
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

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from benchmarks.billing import BILLING_USERNAME
from benchmarks.billing_pages import (
    claims_baseline,
    claims_url,
    overview_baseline,
    overview_url,
    pay_baseline,
    pay_url,
    staff_account_baseline,
    staff_account_url,
    statement_baseline,
    statement_url,
    transactions_baseline,
    transactions_url,
)
from benchmarks.history import CLINICIAN_USERNAME, HEAVY_USERNAME
from benchmarks.inbox_pages import queue_baseline, queue_url, thread_baseline, thread_url
from portal.accounts.models import User
from portal.messaging.models import Message, Thread
from portal.notifications.models import Notification, Task
from portal.organization.models import Campus, CareTeam, OpeningHours, Practitioner
from portal.patients.models import CareRelationship, Patient
from portal.records.models import (
    Allergy,
    Encounter,
    Immunization,
    LabTestGuide,
    Medication,
    Observation,
    Problem,
    ResultReport,
    ResultSeen,
)
from portal.scheduling.booking import earliest_bookable
from portal.scheduling.models import ScheduleTemplate, Slot, VisitType

SHOWN_PLUS_ONE = 6  # cards show five and fetch a sixth to know there are more
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
HEADER = (
    "| date | machine | database | page | median ms | p95 ms | queries "
    "| baseline median ms | baseline queries | page reads ms | median ÷ baseline | reads ÷ baseline |\n"
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)
Baseline = Callable[[Any, Patient, User], int]
# Results pages show this many reports, the summary five, a trend chart the latest hundred.
RESULTS_SHOWN_PLUS_ONE = 21
SUMMARY_RESULTS = 5
SUMMARY_ACTIVE_PLUS_ONE = 11
TREND_POINTS = 100
SLOT_SEARCH_SHOWN_PLUS_ONE = 25  # the booking page shows 24 times and fetches one more


@dataclass(frozen=True)
class Page:
    """A page to measure, where it is for a patient, and the raw SQL that fetches what it shows."""

    name: str
    url: Callable[[Patient], str]
    baseline: Baseline
    # Staff pages are measured signed in as the heavy patient's clinician, who works the
    # care team's inbox; the baseline then gets that user.
    staff: bool = False
    # Or signed in as this user, such as the billing clerk for the billing office's pages.
    username: str = ""


@dataclass(frozen=True)
class Result:
    """One page's numbers."""

    page: str
    median_ms: float
    p95_ms: float
    queries: int
    baseline_median_ms: float
    baseline_queries: int
    reads_median_ms: float = 0.0
    reads_queries: int = 0

    @property
    def median_ratio(self) -> float:
        return self.median_ms / self.baseline_median_ms if self.baseline_median_ms else math.inf

    @property
    def reads_ratio(self) -> float:
        return self.reads_median_ms / self.baseline_median_ms if self.baseline_median_ms else math.inf


def dashboard_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The dashboard's rows in six statements; returns how many statements ran."""
    today = timezone.now().date()
    task, note = Task._meta.db_table, Notification._meta.db_table
    care, team = CareRelationship._meta.db_table, CareTeam._meta.db_table
    campus, hours = Campus._meta.db_table, OpeningHours._meta.db_table
    practitioner = Practitioner._meta.db_table
    thread, message = Thread._meta.db_table, Message._meta.db_table
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
        # The messages card: the latest conversations with their unread replies, then the
        # capped count of unread replies.
        (
            f"SELECT t.id, t.subject, t.topic, t.status, t.last_message_at, "
            f"(SELECT COUNT(*) FROM {message} m WHERE m.thread_id = t.id AND m.from_staff "
            f"AND m.read_at IS NULL) FROM {thread} t WHERE t.patient_id = %s AND t.archived_at IS NULL "
            "ORDER BY t.last_message_at DESC, t.id DESC LIMIT 3",
            [patient.pk],
        ),
        (
            f"SELECT m.id FROM {message} m JOIN {thread} t ON t.id = m.thread_id "
            "WHERE t.patient_id = %s AND m.from_staff AND m.read_at IS NULL LIMIT 100",
            [patient.pk],
        ),
    ]
    for sql, params in statements:
        cursor.execute(sql, params)
        cursor.fetchall()
    return len(statements)


def _run(cursor: Any, statements: list[tuple[str, list[Any]]]) -> list[list[Any]]:
    results = []
    for sql, params in statements:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
    return results


def _reports_sql(limit: int) -> str:
    """Released reports, newest first, with whether this user opened each: what results lists show."""
    report, seen = ResultReport._meta.db_table, ResultSeen._meta.db_table
    return (
        f"SELECT r.id, r.category, r.code, r.name, r.status, r.effective_at, r.issued_at, "
        f"r.performer, r.conclusion, r.reviewed_at, "
        f"EXISTS (SELECT 1 FROM {seen} s WHERE s.user_id = %s AND s.report_id = r.id) "
        f"FROM {report} r WHERE r.patient_id = %s AND r.available_at <= %s "
        f"ORDER BY r.effective_at DESC, r.id DESC LIMIT {int(limit)}"
    )


def _values_sql(report_ids: list[int], only_flagged: bool = False) -> str:
    observation = Observation._meta.db_table
    flagged = " AND interpretation NOT IN ('N', '')" if only_flagged else ""
    return (
        f"SELECT report_id, code, name, value_number, value_text, unit, range_low, range_high, "
        f"range_text, interpretation, status FROM {observation} "
        f"WHERE report_id IN ({', '.join(['%s'] * len(report_ids))}){flagged} "
        "ORDER BY report_id, position, id"
    )


def results_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The first page of results: twenty reports and every value in them, in two statements."""
    (reports,) = _run(cursor, [(_reports_sql(RESULTS_SHOWN_PLUS_ONE), [user.pk, patient.pk, timezone.now()])])
    ids = [row[0] for row in reports[: RESULTS_SHOWN_PLUS_ONE - 1]]
    _run(cursor, [(_values_sql(ids), ids)])
    return 2


def trend_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The latest hundred values of the test (the chart; the table's first page is among them) and its guide."""
    observation, report = Observation._meta.db_table, ResultReport._meta.db_table
    statements: list[tuple[str, list[Any]]] = [
        (
            f"SELECT o.id, o.name, o.effective_at, o.value_number, o.value_text, o.unit, o.range_low, "
            f"o.range_high, o.interpretation, o.status FROM {observation} o "
            f"LEFT JOIN {report} r ON r.id = o.report_id "
            "WHERE o.patient_id = %s AND o.code = %s AND (o.report_id IS NULL OR r.available_at <= %s) "
            f"ORDER BY o.effective_at DESC, o.id DESC LIMIT {TREND_POINTS}",
            [patient.pk, trend_code(patient), timezone.now()],
        ),
        (
            f"SELECT code, name, description FROM {LabTestGuide._meta.db_table} WHERE code = %s",
            [trend_code(patient)],
        ),
    ]
    _run(cursor, statements)
    return len(statements)


def summary_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The health summary: active problems, medicines and allergies, latest shots, results and visits."""
    problem, medication = Problem._meta.db_table, Medication._meta.db_table
    allergy, immunization = Allergy._meta.db_table, Immunization._meta.db_table
    encounter = Encounter._meta.db_table
    statements: list[tuple[str, list[Any]]] = [
        (
            f"SELECT id, name, status, onset_on FROM {problem} WHERE patient_id = %s "
            f"AND status IN ('active', 'recurrence') ORDER BY name, id LIMIT {SUMMARY_ACTIVE_PLUS_ONE}",
            [patient.pk],
        ),
        (
            f"SELECT id, name, dose, instructions, status, last_filled_on, refills_remaining, "
            f"renewable_online FROM {medication} WHERE patient_id = %s "
            f"AND status IN ('active', 'on-hold') ORDER BY name, id LIMIT {SUMMARY_ACTIVE_PLUS_ONE}",
            [patient.pk],
        ),
        (
            f"SELECT id, substance, reaction, severity FROM {allergy} WHERE patient_id = %s "
            f"AND status = 'active' ORDER BY substance, id LIMIT {SUMMARY_ACTIVE_PLUS_ONE}",
            [patient.pk],
        ),
        (
            f"SELECT id, vaccine, given_on, dose_number FROM {immunization} WHERE patient_id = %s "
            f"ORDER BY given_on DESC, id DESC LIMIT {SUMMARY_RESULTS + 1}",
            [patient.pk],
        ),
        (
            f"SELECT id, kind, started_at, reason, practitioner_name FROM {encounter} "
            f"WHERE patient_id = %s ORDER BY started_at DESC, id DESC LIMIT {SUMMARY_RESULTS + 1}",
            [patient.pk],
        ),
        (_reports_sql(SUMMARY_RESULTS), [user.pk, patient.pk, timezone.now()]),
    ]
    reports = _run(cursor, statements)[-1]
    ids = [row[0] for row in reports]
    _run(cursor, [(_values_sql(ids, only_flagged=True), ids)])
    return len(statements) + 1


# The booking page's search: a specialty's follow-ups at the heavy patient's campus.
SLOT_SEARCH_VISIT_TYPE = "follow-up-cardiology"
SLOT_SEARCH_CAMPUS = "rochester"


def slot_search_url(patient: Patient) -> str:
    """The booking page's open times for the search, over the whole search window."""
    visit_type, campus = _slot_search_choice()
    query = urlencode({"visit_type": str(visit_type.pk), "campus": str(campus.pk), "clinician": ""})
    return f"{reverse('booking:slots')}?{query}"


@functools.cache
def _slot_search_choice() -> tuple[VisitType, Campus]:
    return VisitType.objects.get(slug=SLOT_SEARCH_VISIT_TYPE), Campus.objects.get(slug=SLOT_SEARCH_CAMPUS)


def slot_search_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The next page of open, unheld slots of the department at the campus that the visit type
    may use, with their clinicians, and the visit type and campus shown above them."""
    visit_type, campus = _slot_search_choice()
    slot, practitioner = Slot._meta.db_table, Practitioner._meta.db_table
    allowed = ScheduleTemplate.visit_types.through._meta.db_table
    now = timezone.now()
    statements: list[tuple[str, list[Any]]] = [
        (
            f"SELECT id, name, description, duration_minutes, mode, preparation, department_id "
            f"FROM {VisitType._meta.db_table} WHERE id = %s",
            [visit_type.pk],
        ),
        (
            f"SELECT id, name, time_zone, zone_label, appointments_phone FROM {Campus._meta.db_table} "
            "WHERE id = %s",
            [campus.pk],
        ),
        (
            f"SELECT s.id, s.starts_at, s.ends_at, p.id, p.given_name, p.family_name, p.credentials, "
            f"p.role FROM {slot} s JOIN {allowed} a ON a.scheduletemplate_id = s.template_id "
            f"JOIN {practitioner} p ON p.id = s.practitioner_id "
            "WHERE s.campus_id = %s AND s.department_id = %s AND s.status = 'open' "
            "AND s.starts_at >= %s AND s.starts_at < %s AND a.visittype_id = %s "
            "AND (s.held_until IS NULL OR s.held_until <= %s) "
            f"ORDER BY s.starts_at, s.id LIMIT {SLOT_SEARCH_SHOWN_PLUS_ONE}",
            [
                campus.pk, visit_type.department_id, earliest_bookable(now),
                now + dt.timedelta(days=settings.PORTAL_SLOT_SEARCH_DAYS), visit_type.pk, now,
            ],
        ),
    ]  # fmt: skip
    _run(cursor, statements)
    return len(statements)


def trend_code(patient: Patient) -> str:
    """The test the patient has the most values of: the longest trend there is."""
    return _most_frequent_code(patient.pk)


# Looked up once: the baseline must not time this aggregate along with its own query.
@functools.cache
def _most_frequent_code(patient_id: int) -> str:
    most = (
        Observation.objects.filter(patient_id=patient_id)
        .values("code")
        .annotate(count=Count("id"))
        .order_by("-count", "code")
        .first()
    )
    if most is None:
        raise RuntimeError("The benchmark patient has no observations; run benchmarks.generate again.")
    return str(most["code"])


PAGES = [
    Page("dashboard", lambda patient: "/", dashboard_baseline),
    Page("results", lambda patient: reverse("records:results"), results_baseline),
    Page("trend", lambda patient: reverse("records:trend", args=[trend_code(patient)]), trend_baseline),
    Page("health summary", lambda patient: reverse("records:summary"), summary_baseline),
    Page("booking times", slot_search_url, slot_search_baseline),
    Page("inbox queue", queue_url, queue_baseline, staff=True),
    Page("inbox thread", thread_url, thread_baseline, staff=True),
    Page("billing overview", overview_url, overview_baseline),
    Page("billing statement", statement_url, statement_baseline),
    Page("billing transactions", transactions_url, transactions_baseline),
    Page("billing claims", claims_url, claims_baseline),
    Page("billing pay", pay_url, pay_baseline),
    Page("staff billing account", staff_account_url, staff_account_baseline, username=BILLING_USERNAME),
]


def measure_all(
    requests: int, warmup: int, username: str = HEAVY_USERNAME, staff_username: str = CLINICIAN_USERNAME
) -> list[Result]:
    user = User.objects.get(username=username)
    patient = Patient.objects.get(account=user)
    staff = User.objects.get(username=staff_username)
    others = {name: User.objects.get(username=name) for name in {page.username for page in PAGES} - {""}}
    users = [others[page.username] if page.username else staff if page.staff else user for page in PAGES]
    clients = {signed.pk: _signed_in(signed) for signed in {user, staff, *others.values()}}
    return [
        measure(page, clients[signed.pk], signed, patient, requests, warmup)
        for page, signed in zip(PAGES, users, strict=True)
    ]


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def measure(page: Page, client: Client, user: User, patient: Patient, requests: int, warmup: int) -> Result:
    """Time the page for `user` through `client` (signed in as them) about `patient`."""
    path = page.url(patient)
    for _ in range(warmup):
        _get(client, path)
    with CaptureQueriesContext(connection) as captured:
        _get(client, path)
    # Counted now: the captured list is a view of the connection's log, which the next
    # request clears.
    queries = len(captured)
    # Timed apart from the query count: capturing queries has a cost of its own.
    samples = [_timed(lambda: _get(client, path)) for _ in range(requests)]
    reads = _page_reads(client, path)
    reads_samples = [_timed(lambda: _replay(reads)) for _ in range(requests)]
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
        statistics.median(reads_samples),
        len(reads),
    )


def _page_reads(client: Client, path: str) -> list[tuple[str, Any]]:
    """Every SELECT one request of the page runs, with its parameters, to replay on a bare cursor."""
    statements: list[tuple[str, Any]] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if not many and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        _get(client, path)
    return statements


def _replay(statements: list[tuple[str, Any]]) -> None:
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            cursor.fetchall()


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
        f"{result.reads_median_ms:.2f}", f"{result.median_ratio:.0f}", f"{result.reads_ratio:.1f}",
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
