"""One load-test run: sessions minted, app servers started, the simulated patients let loose."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.load import servers as app_servers
from benchmarks.load.report import summarise


def run_load(
    database: dict[str, str] | Callable[[], dict[str, str]],
    *,
    users: int,
    sign_ins: int,
    duration: float,
    warmup: float,
    think: float,
    servers: int,
    workers: int,
    worker_class: str,
    threads: int,
    logs: Path,
    distinct: bool = True,
    server_environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Mint the patients' sessions, start the servers, run the load; the summary.
    Django must be set up against the same database the servers get (`database`, or a
    function giving it once the sessions are in it, for a copy of the database)."""
    from django.conf import settings

    from benchmarks.load import accounts, generator

    load_average = list(os.getloadavg())
    patients = accounts.prepare(users, sign_ins, distinct=distinct)
    if callable(database):
        database = database()
    with app_servers.running(
        servers, workers, worker_class, threads, database, logs, server_environment
    ) as urls:
        stats, started, client_cpu = generator.run(
            patients, urls, warmup + duration, think, settings.SESSION_COOKIE_NAME
        )
    summary = summarise(stats, started + warmup, duration, client_cpu)
    summary["load_average_before"] = load_average
    summary["load_average_after"] = list(os.getloadavg())
    return summary
