"""Two workers sweep at the same moment, in separate processes: every due instalment is
charged exactly once, and each payment is posted to the ledger once.

Runs on PostgreSQL against the test database, and on SQLite against a file copy of it
(the in-memory test database cannot be shared with other processes).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

import portal
from portal.billing.models import Instalment
from portal.billing.tests.plans_support import make_plan
from portal.billing.tests.support import bill, billing_world
from portal.scheduling.tests.app_servers import server_environment, shared_database
from portal.test import World, make_patient, make_user

PATIENTS = 12
SWEEPERS = 3

pytestmark = pytest.mark.django_db(transaction=True)


def _database(tmp_path: Path) -> dict[str, str]:
    return shared_database(tmp_path)


def _count(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    with sqlite3.connect(tmp_path / "data" / "portal.sqlite3") as copy:
        return list(copy.execute(sql).fetchall())


@pytest.mark.long
def test_sweeps_running_at_once_charge_each_instalment_once(world: World, tmp_path: Path) -> None:
    billing_world(world)
    for number in range(PATIENTS):
        user = make_user(f"planner{number}")
        patient = make_patient(f"3{number:07d}", f"Planner{number}", "Concurrent", world.campus, account=user)
        bill(patient, 300_00)
        # Set up for tomorrow, then made due today: in this test every commit is real, and
        # a plan due today would be charged at once by the sweep it queues.
        make_plan(user, patient, 300_00, 3, start_on=timezone.localdate() + dt.timedelta(days=1))
    Instalment.objects.filter(number=1).update(due_on=timezone.localdate())
    environment = server_environment(_database(tmp_path))
    manage = Path(portal.__file__).resolve().parent.parent / "manage.py"
    sweepers = [
        subprocess.Popen(  # noqa: S603  (our own command, fixed arguments)
            [sys.executable, str(manage), "billing_sweep"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(SWEEPERS)
    ]
    outputs = [sweeper.communicate(timeout=180) for sweeper in sweepers]
    for sweeper, (_out, err) in zip(sweepers, outputs, strict=True):
        assert sweeper.returncode == 0, err.decode()
    paid_by_each = [int(out.decode().split("Instalments paid: ")[1].split(",")[0]) for out, _err in outputs]
    assert sum(paid_by_each) == PATIENTS, outputs
    assert _count(tmp_path, "SELECT COUNT(*) FROM billing_sandboxcharge") == [(PATIENTS,)]
    assert _count(tmp_path, "SELECT COUNT(*) FROM billing_payment WHERE status = 'succeeded'") == [
        (PATIENTS,)
    ]
    assert _count(tmp_path, "SELECT COUNT(*) FROM billing_ledgerentry WHERE kind = 'payment'") == [
        (PATIENTS,)
    ]
    assert _count(
        tmp_path,
        "SELECT status, attempts, COUNT(*) FROM billing_instalment WHERE number = 1 GROUP BY status, attempts",
    ) == [("paid", 1, PATIENTS)]
    balances = "SELECT balance_cents, COUNT(*) FROM billing_account GROUP BY balance_cents"
    assert _count(tmp_path, balances) == [(200_00, PATIENTS)]
