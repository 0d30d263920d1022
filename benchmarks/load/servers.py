"""App servers for the load test: `portal serve` processes on loopback ports."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.environment import ROOT

START_TIMEOUT_SECONDS = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(database: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Development mode with DEBUG off, as the page benchmark runs (benchmarks/environment.py):
    production's HTTPS redirects and `__Host-` cookies need TLS in front, which the load
    test leaves out; DEBUG's query log would grow without end."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORTAL_DATA_DIR")}
    environment.update(
        {
            "PORTAL_ENV": "development",
            "DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            **database,
        }
    )
    environment.update(extra or {})
    return environment


@contextmanager
def running(
    count: int,
    workers: int,
    worker_class: str,
    threads: int,
    database: dict[str, str],
    logs: Path,
    extra_environment: dict[str, str] | None = None,
) -> Iterator[list[str]]:
    """Start `count` app servers one after the other (the first collects static files if
    none are, so they never race to); yield their base URLs; stop them after."""
    logs.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for number in range(count):
            port = free_port()
            argv = [
                sys.executable, str(ROOT / "manage.py"), "serve",
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers),
                "--worker-class", worker_class,
                "--threads", str(threads),
            ]  # fmt: skip
            log_path = logs / f"server-{number}.log"
            with log_path.open("wb") as log:
                processes.append(
                    subprocess.Popen(  # noqa: S603  (argv built here from fixed parts)
                        argv,
                        cwd=ROOT,
                        env=server_environment(database, extra_environment),
                        stdout=log,
                        stderr=log,
                    )
                )
            _wait_until_up(port, log_path, processes[-1])
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(port: int, log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited: see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start: see {log}")
