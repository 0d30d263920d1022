"""`portal demo`: set up the demo and run it, server and worker, on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from argparse import ArgumentParser
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.core.management.commands.seed import DEFAULT_PATIENTS, DEFAULT_SEED, describe
from portal.core.management.commands.serve import project_root
from portal.lib.seeding.demo_appointments import (
    GENERATED_BOOKED_SHARE,
    seed_demo_appointments,
    seed_generated_appointments,
)
from portal.lib.seeding.demo_billing import seed_demo_billing
from portal.lib.seeding.demo_messages import seed_demo_messages
from portal.lib.seeding.demo_telehealth import seed_demo_telehealth
from portal.lib.seeding.demo_users import DemoRefused, DemoSignIn, create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import seed_patients
from portal.lib.seeding.schedules import seed_schedules
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.registration.demo import create_demo_registration
from portal.registration.demo import describe as describe_registration

DEFAULT_ADDRESS = "127.0.0.1:8000"
STOP_TIMEOUT_SECONDS = 10
NOT_IN_PRODUCTION = "The demo never runs in production: its sign-ins share a published password."


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo organisation and patients (only into an empty database), "
        "create the demo sign-ins, then run the development server and a worker."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Only set up; start no server or worker.")
        parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--address", default=DEFAULT_ADDRESS, help="(default: %(default)s)")

    def handle(
        self, *args: Any, no_serve: bool, patients: int, seed: int, address: str, **options: Any
    ) -> None:
        self.verbosity: int = options["verbosity"]
        if settings.PRODUCTION:
            raise CommandError(NOT_IN_PRODUCTION)
        self._set_up(patients, seed)
        try:
            sign_ins = create_demo_users()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        self._seed_appointments(seed)
        # After the appointments: a message links to one of Jamie's visits.
        self.stdout.write(f"{seed_demo_messages()} demo conversations added.")
        self.stdout.write(f"{seed_demo_billing()} demo billing accounts added.")
        self.stdout.write(seed_demo_telehealth().summary)  # after billing: it charges an e-visit
        self._print_sign_ins(sign_ins, address)
        self.stdout.write(describe_registration(create_demo_registration(), address))
        if not no_serve:
            self._serve(address)

    def _set_up(self, patients: int, seed: int) -> None:
        call_command("migrate", interactive=False, verbosity=max(self.verbosity - 1, 0))
        seed_organization()
        if Patient.objects.exists():
            self.stdout.write("Patients already exist; not seeding more.")
            return
        # The demo's histories lead up to today, so it looks lived-in whenever it starts.
        anchor = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        self.stdout.write(describe(seed_patients(patients, seed, anchor)))

    def _seed_appointments(self, seed: int) -> None:
        # After the sign-ins: the demo clinician joins a team there, and needs a schedule too.
        now = timezone.now()
        campuses = {campus.slug: campus for campus in Campus.objects.all()}
        # Schedules start on the earliest campus's today, so no campus loses this afternoon.
        today = min(now.astimezone(campus.zone).date() for campus in campuses.values())
        slots = seed_schedules(campuses, today)
        visits = seed_demo_appointments(now)
        generated = seed_generated_appointments(GENERATED_BOOKED_SHARE, seed, now)
        self.stdout.write(
            f"{slots:,} appointment slots, {visits} demo appointments, "
            f"{generated.upcoming:,} upcoming and {generated.past:,} past generated appointments."
        )

    def _print_sign_ins(self, sign_ins: list[DemoSignIn], address: str) -> None:
        width = max(len(sign_in.username) for sign_in in sign_ins)
        lines = [
            "",
            self.style.SUCCESS(f"The demo is at http://{address}/"),
            # Browsers refuse passkeys on an IP address; localhost is a secure context.
            f"(to try passkeys, open http://localhost:{address.rsplit(':', 1)[-1]}/ instead)",
            f"Sign in with any of these; the password is {settings.DEMO_PASSWORD}",
            "",
            *(f"  {sign_in.username:<{width}}  {sign_in.who}" for sign_in in sign_ins),
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _serve(self, address: str) -> None:
        worker = _start("worker", "--no-reload")
        server = _start("runserver", address, "--noreload")
        # `kill` (SIGTERM) should stop the demo as Ctrl-C does, children included.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached both children too (same process group); wait for them below.
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            for process in (server, worker):
                _stop(process)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _start(*command: str) -> subprocess.Popen[bytes]:
    """Run a `portal` subcommand as a child that finds this project and its data."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(project_root()), env.get("PYTHONPATH", "")) if part
    )
    env["PORTAL_DATA_DIR"] = str(Path(settings.DATA_DIR).resolve())
    # The sign-in page then shows the tour of the demo sign-ins (settings.PORTAL_DEMO).
    env["PORTAL_DEMO"] = "1"
    return subprocess.Popen([sys.executable, "-m", "portal", *command], env=env)  # noqa: S603  # nosec B603  # this interpreter, a fixed subcommand


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
