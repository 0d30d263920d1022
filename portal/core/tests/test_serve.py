"""`portal serve`: gunicorn's argv, the metrics directory it starts with, and keep-alive."""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from portal.core.management.commands import serve
from portal.scheduling.tests.app_servers import Server, free_port, server_environment, wait_until_up


def test_serve_writes_no_raw_access_log_and_empties_the_metrics_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    monkeypatch.setattr(serve, "static_files_missing", lambda: False)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: seen.update(argv=argv))
    call_command("serve", "--workers", "2")
    argv = seen["argv"]
    assert "--access-logfile" not in argv
    assert argv[argv.index("--workers") + 1] == "2"
    assert list(metrics.iterdir()) == []


@pytest.mark.long
def test_an_idle_connection_stays_open_longer_than_nginx_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real gunicorn started with `portal serve`'s argv still answers on a connection
    left idle past gunicorn's own 2 s default: the proxy, not the server, closes idle ones."""
    monkeypatch.setattr(serve, "static_files_missing", lambda: False)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: seen.update(argv=argv))
    app_server = Server(port=free_port(), log=tmp_path / "server.log")
    call_command("serve", "--bind", f"127.0.0.1:{app_server.port}", "--workers", "1")
    with app_server.log.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (the argv `portal serve` built)
            seen["argv"],
            env=server_environment({"PORTAL_DATA_DIR": str(tmp_path)}),
            stdout=log,
            stderr=log,
        )
    try:
        wait_until_up(app_server)
        connection = http.client.HTTPConnection(app_server.host, app_server.port, timeout=10)
        assert _status(connection) == 200
        first_socket = connection.sock
        time.sleep(GUNICORN_DEFAULT_KEEP_ALIVE_SECONDS + 1.5)
        assert _status(connection) == 200
        assert connection.sock is first_socket
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=15)


GUNICORN_DEFAULT_KEEP_ALIVE_SECONDS = 2


def _status(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    return response.status
