"""`portal serve`: run the portal under gunicorn."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

import portal

# --worker-class choices and what gunicorn is given for each. uvicorn serves the ASGI
# application (portal.asgi) through its gunicorn worker.
WORKER_CLASSES = {"sync": "sync", "gthread": "gthread", "uvicorn": "uvicorn.workers.UvicornWorker"}
# How long an idle kept-alive connection stays open. The proxy that opens connections to
# the app servers must close its idle ones first: if the server closes one just as nginx
# sends a request on it, nginx cannot resend a POST and the patient gets a 502. gunicorn's
# default is 2 s; nginx keeps idle upstream connections 60 s (deploy/nginx/portal.conf).
KEEP_ALIVE_SECONDS = 75


def default_workers(worker_class: str = "gthread") -> int:
    """Processes per server: gunicorn's rule of thumb (2 per core + 1) for sync workers,
    one per core + 1 for gthread, whose threads wait on the database for each other."""
    cores = os.cpu_count() or 1
    return cores + 1 if worker_class == "gthread" else 2 * cores + 1


def project_root() -> Path:
    """The directory that holds the `portal` package, so gunicorn can import it anywhere."""
    return Path(portal.__file__).resolve().parent.parent


def static_files_missing() -> bool:
    root = Path(settings.STATIC_ROOT)
    return not root.is_dir() or not any(root.iterdir())


def prepare_metrics_dir() -> None:
    """Start with an empty multiprocess metrics directory, as prometheus-client requires:
    files left by a previous run's workers would be added to this run's counts."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not configured:
        return
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink(missing_ok=True)


class Command(BaseCommand):
    help = "Run the portal under gunicorn, collecting static files first if none are collected."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="(default: %(default)s)")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="(default: cores + 1 for gthread, 2 per core + 1 otherwise)",
        )
        # gthread had the lowest p95 on the mixed load against sync and uvicorn
        # (docs/deployment.md, "Choosing the app server"); the others stay for measuring.
        parser.add_argument(
            "--worker-class", choices=WORKER_CLASSES, default="gthread", help="(default: %(default)s)"
        )
        parser.add_argument(
            "--threads", type=int, default=4, help="threads per gthread worker (default: %(default)s)"
        )

    def handle(
        self, *args: Any, bind: str, workers: int | None, worker_class: str, threads: int, **options: Any
    ) -> None:
        workers = workers or default_workers(worker_class)
        if static_files_missing():
            self.stdout.write(f"Collecting static files into {settings.STATIC_ROOT}")
            call_command("collectstatic", interactive=False, verbosity=0)
        argv = [
            sys.executable, "-m", "gunicorn",
            "portal.asgi:application" if worker_class == "uvicorn" else "portal.wsgi:application",
            "--pythonpath", str(project_root()),
            "--bind", bind,
            "--workers", str(workers),
            "--worker-class", WORKER_CLASSES[worker_class],
            "--keep-alive", str(KEEP_ALIVE_SECONDS),
        ]  # fmt: skip
        if worker_class == "gthread":
            argv += ["--threads", str(threads)]
        # No gunicorn access log: it would write raw paths and query strings (ids, tokens).
        # The portal's own access-log line names the route pattern instead.
        prepare_metrics_dir()
        self.stdout.write(f"Serving http://{bind}/ with {workers} gunicorn {worker_class} workers")
        self.stdout.flush()
        # Replace this process rather than wrap it, so a process manager's signals
        # reach gunicorn's arbiter directly. argv is built here, not from user input.
        os.execv(sys.executable, argv)  # noqa: S606  # nosec B606
