"""The per-request CPU measurement runs on a small organisation and reports every page."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connection

from benchmarks.history import build
from benchmarks.request_cpu import measure, report, server_cpu_seconds
from benchmarks.sizes import Sizes

SMALL = Sizes(
    patients=20, notifications=10, tasks=5, audit_events=20, years=1, observations=50,
    appointments=5, threads=40, messages=80, long_thread=10,
)  # fmt: skip
PAGES = ["dashboard", "results", "result", "messages", "thread", "booking start", "booking times"]


@pytest.mark.django_db
def test_each_load_test_page_gets_its_cpu_and_query_count() -> None:
    build(SMALL, seed=1, anchor=dt.datetime.now(dt.UTC), log=lambda line: None)
    results = measure(requests=2)
    assert [result.page for result in results] == PAGES
    assert all(result.app_ms > 0 and result.queries >= 5 for result in results)
    on_postgresql = connection.vendor == "postgresql"
    assert all((result.database_ms is not None) == on_postgresql for result in results)
    lines = report(results)
    assert len(lines) == len(PAGES) + 2
    assert lines[-1].startswith("all 7")


def test_a_process_cpu_is_read_from_proc_and_a_missing_one_is_none() -> None:
    own = server_cpu_seconds(os.getpid())
    assert own is not None and own > 0
    assert server_cpu_seconds(2**22 + 7) is None
