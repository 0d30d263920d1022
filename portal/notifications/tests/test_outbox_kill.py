"""The outbox survives killed workers: 200 emails and texts, two delivery workers killed
with SIGKILL mid-run again and again and then restarted, and in the end every message
delivered exactly once.

The workers are real processes (`delivery_worker`: `portal deliver_outbox` with slow
local providers that write to the demo mailbox), on the test's PostgreSQL database or on
a file copy of the SQLite one (the in-memory test database cannot be shared).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

import portal
from portal.notifications.models import MailboxEntry, OutboxMessage
from portal.notifications.tests.delivery_support import SLOW_PROVIDER, consent_to_texts, queue_message
from portal.test import World

pytestmark = pytest.mark.django_db(transaction=True)

EACH_CHANNEL = 100
WORKERS = 2
KILLS = 4
DELIVERED_BETWEEN_KILLS = 25
LEASE_SECONDS = 0.5
WAIT_SECONDS = 60.0
NUMBER = "+15075550199"


@dataclass(frozen=True)
class OutboxRow:
    pk: int
    channel: str
    sent: bool
    claimed: bool
    reference: str


@dataclass
class Database:
    """The workers' view of the test's data, read without going through the test's connection
    where that cannot see it (SQLite's file copy)."""

    environment: dict[str, str]
    sqlite_file: Path | None = None

    def _rows(self, sql: str) -> list[tuple[object, ...]]:
        assert self.sqlite_file is not None
        with sqlite3.connect(self.sqlite_file, timeout=30) as copy:
            return list(copy.execute(sql).fetchall())

    def delivered(self) -> int:
        if self.sqlite_file is None:
            return MailboxEntry.objects.count()
        ((count,),) = self._rows("SELECT COUNT(*) FROM notifications_mailboxentry")
        return int(str(count))

    def mailbox_keys(self) -> list[tuple[str, int]]:
        if self.sqlite_file is None:
            return list(MailboxEntry.objects.values_list("idempotency_key", "pk"))
        return [
            (str(key), int(str(pk)))
            for key, pk in self._rows("SELECT idempotency_key, id FROM notifications_mailboxentry")
        ]

    def outbox(self) -> list[OutboxRow]:
        if self.sqlite_file is None:
            rows = OutboxMessage.objects.values_list(
                "pk", "channel", "sent_at", "claimed_at", "provider_reference"
            )
            found: list[tuple[object, ...]] = [tuple(row) for row in rows]
        else:
            found = self._rows(
                "SELECT id, channel, sent_at, claimed_at, provider_reference FROM notifications_outboxmessage"
            )
        return [
            OutboxRow(int(str(pk)), str(channel), sent is not None, claimed is not None, str(reference))
            for pk, channel, sent, claimed, reference in found
        ]


@pytest.fixture
def queued(world: World) -> list[OutboxMessage]:
    consent_to_texts(world.alice, NUMBER)
    return [
        queue_message(world, channel, dedupe_key=f"kill-test:{channel}:{number}")
        for number in range(EACH_CHANNEL)
        for channel in (OutboxMessage.Channel.EMAIL, OutboxMessage.Channel.SMS)
    ]


@pytest.fixture
def database(queued: list[OutboxMessage], tmp_path: Path) -> Database:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE", "PORTAL_DATA_DIR")
    }
    environment.update(
        {
            "PORTAL_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_POOL": "false",
            "EMAIL_BACKEND": "portal.notifications.tests.delivery_support.SlowMailboxEmailBackend",
            "PORTAL_SMS_PROVIDER": SLOW_PROVIDER,
            "OUTBOX_TEST_LEASE_SECONDS": str(LEASE_SECONDS),
            "OUTBOX_TEST_HANDED_LOG": str(tmp_path / "handed.log"),
        }
    )
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        if db.get("PASSWORD"):
            url = url.replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@", 1)
        return Database({**environment, "DATABASE_URL": url})
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    connection.ensure_connection()
    with sqlite3.connect(data_dir / "portal.sqlite3") as copy:
        connection.connection.backup(copy)
    return Database({**environment, "PORTAL_DATA_DIR": str(data_dir)}, data_dir / "portal.sqlite3")


class Workers:
    """Delivery worker processes, forked on request by one `delivery_worker` parent that set
    Django up once."""

    def __init__(self, database: Database, log: Path) -> None:
        project = Path(portal.__file__).resolve().parent.parent
        argv = [sys.executable, "-m", "portal.notifications.tests.delivery_worker"]
        self.log = log
        self.parent = subprocess.Popen(  # noqa: S603  (argv built here from fixed parts)
            argv,
            cwd=project,
            env=database.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            text=True,
        )
        self.running: set[int] = set()
        assert self._ask("") == "ready", self.log.read_text(errors="replace")

    def _ask(self, command: str) -> str:
        assert self.parent.stdin is not None and self.parent.stdout is not None
        if command:
            self.parent.stdin.write(f"{command}\n")
            self.parent.stdin.flush()
        return self.parent.stdout.readline().strip()

    def start(self) -> int:
        pid = int(self._ask("start"))
        self.running.add(pid)
        return pid

    def kill(self, pid: int) -> int:
        os.kill(pid, signal.SIGKILL)
        return self.wait(pid)

    def wait(self, pid: int) -> int:
        self.running.discard(pid)
        return int(self._ask(f"wait {pid}"))

    def finished(self, pid: int) -> bool:
        if self._ask(f"poll {pid}") == "running":
            return False
        self.running.discard(pid)
        return True

    def stop(self) -> None:
        for pid in list(self.running):
            self.kill(pid)
        assert self.parent.stdin is not None
        self.parent.stdin.close()
        self.parent.wait(timeout=10)


@pytest.fixture
def workers(database: Database, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(database, tmp_path / "workers.log")
    yield started
    started.stop()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.long
def test_killed_workers_neither_lose_nor_double_a_message(
    queued: list[OutboxMessage], database: Database, workers: Workers, tmp_path: Path
) -> None:
    in_flight_at_kills = 0
    for round_number in range(KILLS):
        target = database.delivered() + DELIVERED_BETWEEN_KILLS
        pids = [workers.start() for _n in range(WORKERS)]
        _wait_for(lambda: database.delivered() >= target, f"round {round_number} to deliver")  # noqa: B023
        for pid in pids:
            assert workers.kill(pid) == -signal.SIGKILL, "the worker finished before it was killed"
        in_flight_at_kills += sum(1 for row in database.outbox() if row.claimed and not row.sent)
        time.sleep(LEASE_SECONDS + 0.2)  # the killed workers' claims expire
    assert in_flight_at_kills, "no kill interrupted a delivery: the test tested nothing"
    assert database.delivered() < len(queued)

    final = [workers.start() for _n in range(WORKERS)]
    for pid in final:
        _wait_for(lambda: workers.finished(pid), "the last workers to finish")  # noqa: B023
    assert "Traceback" not in (tmp_path / "workers.log").read_text(errors="replace")

    rows = database.outbox()
    assert len(rows) == len(queued) and all(row.sent for row in rows)
    entries = dict(database.mailbox_keys())
    # One mailbox entry per message: keyed by its outbox id (emails also by the address).
    expected = {
        f"outbox-{row.pk}"
        if row.channel == OutboxMessage.Channel.SMS
        else f"outbox-{row.pk}:alice@example.org"
        for row in rows
    }
    assert set(entries) == expected and len(database.mailbox_keys()) == len(queued)
    for row in rows:
        if row.channel == OutboxMessage.Channel.SMS:
            assert row.reference == f"local-{entries[f'outbox-{row.pk}']}"
        else:
            assert row.reference == f"<outbox-{row.pk}@127.0.0.1>"
    # Every message reached a provider, some more than once (a kill after the provider
    # took it): those are the ones the idempotency key kept from being doubled.
    handed = Counter((tmp_path / "handed.log").read_text().split())
    assert set(handed) == {f"outbox-{row.pk}" for row in rows}
