"""The load test, sized for CI: two app-server processes on a tiny organisation, twenty
simulated patients for about ten seconds. Every request type of the mix must be made and
none may fail. Nothing about speed is asserted: the timings live in docs/benchmarks.md.

Runs on PostgreSQL against the test database, and on SQLite against a file copy of it
(the in-memory test database cannot be shared with other processes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from benchmarks.history import build
from benchmarks.load.generator import REQUEST_TYPES
from benchmarks.load.harness import run_load
from benchmarks.sizes import Sizes
from portal.lib.crypto.keys import key_ring
from portal.scheduling.tests.app_servers import shared_database

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = Sizes(
    patients=30, notifications=10, tasks=5, audit_events=20, years=1, observations=50,
    appointments=5, threads=60, messages=150, long_thread=10,
)  # fmt: skip


@pytest.mark.long
def test_twenty_patients_on_two_app_servers_make_every_request_without_an_error(
    tmp_path: Path, settings: Any
) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 14  # a fortnight of slots is plenty to search and book
    # Hash the sign-in password as the servers (development settings) do: with the test
    # settings' cheap hasher, each sign-in would rehash it and sign out that patient's
    # other sessions.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    build(SMALL, seed=1, anchor=dt.datetime.now(dt.UTC), log=lambda line: None)
    summary = run_load(
        lambda: _database(tmp_path),
        users=20,
        sign_ins=20,
        # Long enough for every patient's script to reach booking while the browser tests
        # load both cores (10 s was not, in a fresh-clone CI run).
        duration=25,
        warmup=0,
        think=0.2,
        servers=2,
        workers=2,
        worker_class="sync",
        threads=1,
        logs=tmp_path / "logs",
        distinct=False,
        # The servers must accept the sessions this process minted and read the fields it
        # encrypted (insurance numbers on the booking confirm page's estimate).
        server_environment={
            "SECRET_KEY": settings.SECRET_KEY,
            "PORTAL_FIELD_KEYS": ",".join(key.decode("ascii") for key in key_ring().keys),
        },
    )
    assert summary["errors"] == 0, summary["error_examples"]
    made = {kind for kind, numbers in summary["by_type"].items() if numbers["all_requests"]}
    assert made == set(REQUEST_TYPES)


def _database(tmp_path: Path) -> dict[str, str]:
    return shared_database(tmp_path)
