"""The generator and the runner work end to end on a tiny organisation.

Times nothing that matters and asserts nothing about speed: that is the runner's job.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.api import BENCH_APP_NAME, measure_api
from benchmarks.audit_rate import append_for
from benchmarks.billing import STATEMENTS
from benchmarks.environment import SQLITE_FILES, warm_sqlite_database
from benchmarks.history import HISTORY, History, build
from benchmarks.inbox import INBOX_POOL, LONG_THREAD_SUBJECT
from benchmarks.measure import RESULTS_START, measure_all, record_results
from benchmarks.sizes import Sizes
from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_chain
from portal.billing import ledger
from portal.billing.models import Account, LedgerEntry, Payment, Statement
from portal.billing.staff_access import works_in_billing
from portal.messaging.access import staff_pools
from portal.messaging.models import Message, Thread
from portal.notifications.models import Notification, Task
from portal.organization.models import CareTeam
from portal.patients.models import Patient
from portal.records.models import Encounter, Observation
from portal.smart.models import PatientAuthorization
from portal.test import World

ANCHOR = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
TINY = Sizes(
    patients=50, notifications=100, tasks=20, audit_events=300, years=2, observations=400,
    threads=40, messages=200, long_thread=30,
)  # fmt: skip


@pytest.mark.django_db
def test_the_generator_builds_a_heavy_patient_with_a_valid_audit_chain(settings: Any) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 14  # a fortnight of slots is enough to measure a search
    history = build(TINY, seed=1, anchor=ANCHOR, log=lambda line: None)
    assert Patient.objects.count() == 51
    assert Notification.objects.filter(patient=history.patient).count() == 100
    assert Task.objects.filter(patient=history.patient).count() == 20
    assert AuditEvent.objects.filter(patient_id=history.patient.pk).count() == 300
    assert verify_chain()[1] == []
    assert HISTORY[-1][0] == "audit events"
    # The heavy patient's record, and a little for everyone else.
    assert 400 <= Observation.objects.filter(patient=history.patient).count() < 460
    assert Encounter.objects.exclude(patient=history.patient).values("patient").distinct().count() > 40
    assert_a_care_team_inbox_the_benchmark_clinician_works(history)
    assert_years_of_bills_that_add_up(history)


def assert_a_care_team_inbox_the_benchmark_clinician_works(history: History) -> None:
    pool = CareTeam.objects.get(slug=INBOX_POOL)
    assert pool in staff_pools(history.clinician)
    threads = Thread.objects.filter(pool=pool)
    assert threads.count() == 40 and Message.objects.filter(thread__pool=pool).count() == 200
    assert (
        Message.objects.filter(thread__subject=LONG_THREAD_SUBJECT, thread__patient=history.patient).count()
        == 30
    )
    assert threads.values("patient").distinct().count() > 1
    statuses = set(threads.values_list("status", flat=True))
    assert Thread.Status.CLOSED in statuses and statuses & set(Thread.OPEN_STATUSES)
    for thread in threads.filter(status__in=Thread.OPEN_STATUSES):
        last = thread.messages.order_by("created_at", "id").last()
        assert thread.due_at is not None and last is not None and not last.from_staff
        assert last.created_at == thread.last_message_at
    assert not threads.exclude(status__in=Thread.OPEN_STATUSES).filter(due_at__isnull=False).exists()
    assert not threads.filter(status=Thread.Status.NEW, assigned_to__isnull=False).exists()


def assert_years_of_bills_that_add_up(history: History) -> None:
    heavy = Account.objects.get(patient=history.patient)
    assert heavy.statements.count() == STATEMENTS
    assert heavy.service_lines.count() > 300 and heavy.entries.count() > 1000
    assert 30 <= heavy.payments.filter(status=Payment.Status.SUCCEEDED).count() <= 45
    others = Account.objects.exclude(pk=heavy.pk)
    assert others.exists() and not others.filter(patient__account=history.user).exists()
    for account in Account.objects.all():
        assert account.balance_cents == ledger.derived_balance(account)
        previous = 0
        for statement in account.statements.order_by("issued_on", "id"):
            assert statement.previous_balance_cents == previous
            assert statement.amount_due_cents == (
                previous + statement.charges_cents - statement.insurance_paid_cents
                - statement.adjustments_cents - statement.payments_cents
            )  # fmt: skip
            previous = statement.amount_due_cents
    # Each statement's figures are the ledger entries posted in its period.
    latest, before = heavy.statements.order_by("-issued_on", "-id")[:2]
    period = LedgerEntry.objects.filter(
        account=heavy, posted_at__gt=before.created_at, posted_at__lte=latest.created_at
    )
    assert latest.charges_cents == sum(entry.amount_cents for entry in period.filter(kind="charge"))
    assert not heavy.service_lines.filter(statement=None, created_at__lte=latest.created_at).exists()
    assert works_in_billing(User.objects.get(username="bench-billing"))
    assert Statement.objects.exclude(account=heavy).filter(amount_due_cents__lte=0).count() == 0


@pytest.mark.django_db
def test_the_runner_measures_and_records_a_table(tmp_path: Path, settings: Any) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 14
    build(TINY, seed=1, anchor=ANCHOR, log=lambda line: None)
    results = measure_all(requests=3, warmup=1)
    assert [result.page for result in results] == [
        "dashboard", "results", "trend", "health summary", "booking times", "inbox queue", "inbox thread",
        "billing overview", "billing statement", "billing transactions", "billing claims", "billing pay",
        "staff billing account",
    ]  # fmt: skip
    assert [result.baseline_queries for result in results] == [6, 2, 2, 7, 3, 5, 11, 3, 2, 2, 2, 3, 11]
    assert all(result.queries >= result.reads_queries > 0 for result in results)
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n", encoding="utf-8")
    record_results(docs, results, ANCHOR.date(), "test machine", "SQLite")
    record_results(docs, results, ANCHOR.date(), "test machine", "SQLite")
    text = docs.read_text(encoding="utf-8")
    assert text.count(RESULTS_START) == 1
    assert text.count("| 2026-06-01 | test machine | SQLite | dashboard |") == 1
    assert text.count("| 2026-06-01 | test machine | SQLite | trend |") == 1
    assert verify_chain()[1] == []


@pytest.mark.django_db
def test_the_runner_measures_the_patient_api_as_an_app(settings: Any) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 14
    history = build(TINY, seed=1, anchor=ANCHOR, log=lambda line: None)
    results = measure_api(requests=3, warmup=1)
    assert [result.page for result in results] == [
        "API lab values", "API one test, last year", "API vital signs by date", "API lab values, next page",
        "API $everything", "API lab reports",
    ]  # fmt: skip
    assert [result.baseline_queries for result in results] == [1, 1, 1, 1, 3, 2]
    assert all(result.queries >= result.reads_queries > 0 for result in results)
    # One authorization of the benchmark app, kept across runs; a new token each run.
    measure_api(requests=1, warmup=0)
    authorization = PatientAuthorization.objects.get(application__name=BENCH_APP_NAME)
    assert authorization.patient == history.patient and authorization.user == history.user
    assert verify_chain()[1] == []


def test_the_audit_rate_benchmark_appends_valid_events(world: World) -> None:
    before = AuditEvent.objects.count()
    appended = append_for(0.2, time.time())
    assert appended > 0
    assert AuditEvent.objects.count() == before + appended
    assert AuditEvent.objects.filter(action="bench.audit_rate", patient__isnull=False).count() == appended
    _read, problems = verify_chain()
    assert not problems


def test_the_sqlite_files_are_read_through_before_measuring(tmp_path: Path) -> None:
    (tmp_path / SQLITE_FILES[0]).write_bytes(b"d" * 9_000_001)
    (tmp_path / SQLITE_FILES[1]).write_bytes(b"w" * 12_345)
    assert warm_sqlite_database(tmp_path) == 9_012_346
    assert warm_sqlite_database(tmp_path / "nothing-here") == 0
