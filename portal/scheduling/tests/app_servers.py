"""Real app servers for tests that need several processes: gunicorn on loopback ports.

Each server is its own gunicorn arbiter with its own sync workers, started with the
test's settings and pointed at the test's database, so requests spread over them
behave as they would behind a load balancer in front of several machines.
"""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

import portal

START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shared_database(tmp_path: Path) -> dict[str, str]:
    """The test's data for other processes: its PostgreSQL database, or a file copy of SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        return {"DATABASE_URL": url}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    connection.ensure_connection()
    with sqlite3.connect(data_dir / "portal.sqlite3") as copy:
        connection.connection.backup(copy)
    return {"PORTAL_DATA_DIR": str(data_dir)}


def server_environment(database: dict[str, str]) -> dict[str, str]:
    """The test process's settings for a server process, with `database` on top."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(
        {
            "PORTAL_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_POOL": "false",
            **database,
        }
    )
    return environment


@contextmanager
def running_servers(count: int, workers: int, database: dict[str, str], logs: Path) -> Iterator[list[Server]]:
    """Start `count` gunicorn servers with `workers` sync workers each; stop them after."""
    project = Path(portal.__file__).resolve().parent.parent
    servers: list[Server] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number in range(count):
            server = Server(port=free_port(), log=logs / f"server-{number}.log")
            argv = [
                sys.executable, "-m", "gunicorn", "portal.wsgi:application",
                "--pythonpath", str(project),
                "--bind", f"127.0.0.1:{server.port}",
                "--workers", str(workers),
                "--timeout", "60",
            ]  # fmt: skip
            log = server.log.open("wb")
            processes.append(
                subprocess.Popen(  # noqa: S603  (argv built here from fixed parts)
                    argv, cwd=project, env=server_environment(database), stdout=log, stderr=log
                )
            )
            servers.append(server)
        for server in servers:
            wait_until_up(server)
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {server.port} did not start: see {server.log}")
