"""kill -9 during writes: the app server and the worker are killed again and again while
patients book, send messages and pay; afterwards every write the server acknowledged is
there exactly once, the audit chain verifies, and every email and text the writes queued
reached the (local, idempotent) providers exactly once.

Real processes on loopback: a gunicorn server and a `portal worker`, each in its own
process group so SIGKILL takes the arbiter and its workers mid-request together. Clients
retry a request whose connection broke with the same form (the same idempotency key for
a payment, the same client key for a message), as a browser's retry would. The outbox
runs through the database task queue (`crash_settings`), not inside the request.

Runs on PostgreSQL against the test database, and on SQLite against a file copy of it.
When every process is stopped, `crash_check` runs as a process against that database:
it catches up the outbox as the operator's `portal deliver_outbox` does after an outage
(past the lease, so claims of a killed worker are taken over) and reads everything back.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

import portal
from portal.audit.actor import Actor
from portal.billing.tests.support import bill, card_token
from portal.messaging import actions as messaging
from portal.messaging.models import Thread, Topic
from portal.patients.access import decide
from portal.patients.models import CareRelationship
from portal.scheduling.models import Slot
from portal.scheduling.tests.app_servers import free_port, server_environment, shared_database
from portal.scheduling.tests.support import SchedulingWorld, local_moment, make_slot, scheduling_world
from portal.test import World, make_patient, make_user

PATIENTS = 4
SLOTS_EACH = 12
PAYMENTS_EACH = 12
CHAOS_SECONDS = 25
# On a loaded machine 25 s may not be enough writes to mean something: the clients (and
# the kills) then go on until each kind has ENOUGH acknowledged writes, for at most this long.
EXTRA_SECONDS = 45
ENOUGH = 5
KILL_GAP_SECONDS = (1.0, 3.0)
KILLS_EACH = 3
START_TIMEOUT_SECONDS = 60
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ID_IN = re.compile(r"/(\d+)/")

pytestmark = pytest.mark.django_db(transaction=True)


# The world -----------------------------------------------------------------------------


@dataclass
class Person:
    """A patient with a browser session, the slots only they book, a thread they write in
    and single-use card tokens for their payments (so no two clients ever compete)."""

    number: int
    patient_id: int
    session: str
    thread_id: int
    slots: list[int]
    visit_type: int
    tokens: list[str]
    csrf_cookie: str = ""
    csrf_token: str = ""


@dataclass
class Ledger:
    """What the server acknowledged, and every idempotency key a client ever sent."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    appointments: list[tuple[int, int, int]] = field(default_factory=list)  # (appointment, slot, patient)
    messages: list[str] = field(default_factory=list)
    payments: list[tuple[int, str]] = field(default_factory=list)  # (payment, key)
    payment_keys: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def enough(self) -> bool:
        with self.lock:
            return min(len(self.appointments), len(self.messages), len(self.payments)) >= ENOUGH


def going_on(ledger: Ledger, stop: float) -> bool:
    """Until `stop`, and past it (up to EXTRA_SECONDS) while too few writes were acknowledged."""
    now = time.monotonic()
    return now < stop or (now < stop + EXTRA_SECONDS and not ledger.enough())


@pytest.fixture
def people(world: World) -> list[Person]:
    sw: SchedulingWorld = scheduling_world(world)
    found = []
    for number in range(PATIENTS):
        user = make_user(f"crash{number}")
        patient = make_patient(f"3{number:07d}", f"Crash{number}", "Durable", world.campus, account=user)
        client = Client()
        client.force_login(user)
        CareRelationship.objects.create(
            patient=patient, care_team=world.care_team, practitioner=world.clinician.practitioner,
            starts_on=dt.date(2020, 1, 1),
        )  # fmt: skip
        access = decide(user, patient)
        assert access is not None
        thread = messaging.do_start_thread(
            Actor.system(),
            access,
            topic=Topic.MEDICAL,
            care_team=world.care_team,
            subject="Questions",
            draft=messaging.Draft(body="First question."),
        )
        slots: list[Slot] = [
            make_slot(sw, local_moment(world.campus, 3 + day, 8 + number * 2 + half))
            for day in range(SLOTS_EACH // 2)
            for half in range(2)
        ]
        bill(patient, 500_00)
        found.append(
            Person(
                number=number,
                patient_id=patient.pk,
                session=client.cookies[settings.SESSION_COOKIE_NAME].value,
                thread_id=thread.pk,
                slots=[slot.pk for slot in slots],
                visit_type=sw.follow_up.pk,
                tokens=[card_token() for _ in range(PAYMENTS_EACH)],
            )
        )
    assert Thread.objects.count() == PATIENTS
    return found


# Processes ---------------------------------------------------------------------------------


class Processes:
    """The app server and the worker, each restartable and killable as a process group."""

    def __init__(self, environment: dict[str, str], logs: Path) -> None:
        self.environment = environment
        self.logs = logs
        self.port = free_port()
        self.project = Path(portal.__file__).resolve().parent.parent
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.starts = {"server": 0, "worker": 0}
        self.kills = {"server": 0, "worker": 0}

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.starts[name] += 1
        log = (self.logs / f"{name}-{self.starts[name]}.log").open("wb")
        return subprocess.Popen(  # noqa: S603  (argv built here from fixed parts)
            argv, cwd=self.project, env=self.environment, stdout=log, stderr=log, start_new_session=True
        )

    def start_server(self) -> None:
        argv = [
            sys.executable, "-m", "gunicorn", "portal.wsgi:application",
            "--pythonpath", str(self.project),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", "2",
            "--timeout", "60",
        ]  # fmt: skip
        self.server = self._spawn("server", argv)
        self._wait_until_up()

    def start_worker(self) -> None:
        argv = [
            sys.executable, "-m", "portal", "worker",
            "--no-reload", "--no-startup-delay", "--interval", "0.2",
            "--worker-id", f"crash-{self.starts['worker'] + 1}",
        ]  # fmt: skip
        self.worker = self._spawn("worker", argv)

    def kill(self, name: str) -> None:
        process = self.server if name == "server" else self.worker
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.kills[name] += 1

    def stop(self) -> None:
        for process in (self.server, self.worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: see {self.logs}")

    def logs_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("*.log")))


@pytest.fixture
def database(tmp_path: Path, people: list[Person]) -> dict[str, str]:
    """The test's data for other processes: its PostgreSQL database, or a file copy of SQLite."""
    return shared_database(tmp_path)


@pytest.fixture
def processes(tmp_path: Path, database: dict[str, str]) -> Iterator[Processes]:
    environment = server_environment(database)
    environment["DJANGO_SETTINGS_MODULE"] = "portal.core.tests.crash_settings"
    environment["CRASH_SEND_LOG"] = str(tmp_path / "sends.log")
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Processes(environment, logs)
    try:
        yield running
    finally:
        running.stop()


# Clients -----------------------------------------------------------------------------------


class Broken(Exception):
    """The connection failed or the server answered 5xx: the request is tried again."""


def _request(
    port: int, person: Person, method: str, path: str, form: dict[str, Any] | None = None
) -> tuple[int, str, str]:
    cookies = {settings.SESSION_COOKIE_NAME: person.session}
    if person.csrf_cookie:
        cookies[settings.CSRF_COOKIE_NAME] = person.csrf_cookie
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    body = None
    if form is not None:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": person.csrf_token, **form})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = f"http://127.0.0.1:{port}{path}"
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        raise Broken(type(exc).__name__) from exc
    if response.status >= 500:
        raise Broken(str(response.status))
    set_cookie = "\n".join(response.headers.get_all("Set-Cookie") or [])
    if set_cookie:
        jar = SimpleCookie()
        jar.load(set_cookie)
        if settings.CSRF_COOKIE_NAME in jar:
            person.csrf_cookie = jar[settings.CSRF_COOKIE_NAME].value
    return response.status, text, response.headers.get("Location", "")


def _until_answered(
    port: int, person: Person, method: str, path: str, form: dict[str, Any] | None, stop: float
) -> tuple[int, str, str] | None:
    """Send until the server answers (the same form each time), or None when time is up."""
    while time.monotonic() < stop + 20:
        try:
            return _request(port, person, method, path, form)
        except Broken:
            time.sleep(0.05)
    return None


def _patient(port: int, person: Person, ledger: Ledger, stop: float) -> None:
    """One patient's session; anything that goes wrong in it fails the test."""
    try:
        _write_until(port, person, ledger, stop)
    except Exception as exc:  # a thread's exception would otherwise vanish
        with ledger.lock:
            ledger.server_errors.append(f"patient {person.number}: {exc!r}")


def _write_until(port: int, person: Person, ledger: Ledger, stop: float) -> None:
    rng = random.Random(person.number)
    slots = list(person.slots)
    tokens = list(person.tokens)
    page = _until_answered(
        port, person, "GET", reverse("messaging:thread", args=[person.thread_id]), None, stop
    )
    assert page is not None and page[0] == 200, page
    match = CSRF_FIELD.search(page[1])
    assert match is not None
    person.csrf_token = match.group(1)
    sent = 0
    while going_on(ledger, stop) and (slots or tokens):
        retry_until = max(stop, time.monotonic())
        choice = rng.choice(["book", "message", "pay"])
        if choice == "book" and slots:
            slot = slots.pop()
            answer = _until_answered(
                port, person, "POST", reverse("booking:confirm", args=[slot]),
                {"visit_type": person.visit_type, "reason": "check-up"}, retry_until,
            )  # fmt: skip
            # A retry of a booking that committed meets its own appointment: "taken", not
            # acknowledged, and not counted.
            if answer is not None and answer[0] == 302:
                appointment = int(ID_IN.search(answer[2]).group(1))  # type: ignore[union-attr]
                with ledger.lock:
                    ledger.appointments.append((appointment, slot, person.patient_id))
        elif choice == "message":
            sent += 1
            body = f"crash-{person.number}-{sent}"
            form = {"body": body, "client_key": os.urandom(16).hex()}
            answer = _until_answered(
                port, person, "POST", reverse("messaging:reply", args=[person.thread_id]), form, retry_until
            )
            if answer is not None and answer[0] == 302:
                with ledger.lock:
                    ledger.messages.append(body)
        elif tokens:
            key = os.urandom(16).hex()
            form = {
                "amount_choice": "other", "other_amount": "1.00", "method": "card",
                "token": tokens.pop(), "card_brand": "Visa", "card_last4": "4242",
                "key": key, "step": "pay", "confirmed_cents": "100", "patient": str(person.patient_id),
            }  # fmt: skip
            with ledger.lock:
                ledger.payment_keys.append(key)
            answer = _until_answered(port, person, "POST", reverse("billing:pay"), form, retry_until)
            if answer is not None and answer[0] == 302 and "/billing/payments/" in answer[2]:
                with ledger.lock:
                    ledger.payments.append((int(ID_IN.search(answer[2]).group(1)), key))  # type: ignore[union-attr]
            elif answer is not None:
                with ledger.lock:
                    ledger.server_errors.append(f"pay answered {answer[0]} {answer[2]}")


def _chaos(processes: Processes, ledger: Ledger, stop: float) -> None:
    """Kill the server, the worker, or both at random moments; start them again. Each is
    killed at least `KILLS_EACH` times, even if that runs past the clients' time."""
    rng = random.Random(20261124)
    rounds = itertools.cycle([["server"], ["worker"], ["server", "worker"]])
    while going_on(ledger, stop) or min(processes.kills.values()) < KILLS_EACH:
        time.sleep(rng.uniform(*KILL_GAP_SECONDS))
        victims = next(rounds)
        for victim in victims:
            processes.kill(victim)
        for victim in victims:
            processes.start_server() if victim == "server" else processes.start_worker()


# The test ----------------------------------------------------------------------------------


@pytest.mark.long
def test_acknowledged_writes_survive_kill_9(
    people: list[Person], processes: Processes, tmp_path: Path
) -> None:
    processes.start_server()
    processes.start_worker()
    ledger = Ledger()
    stop = time.monotonic() + CHAOS_SECONDS
    clients = [
        threading.Thread(target=_patient, args=(processes.port, person, ledger, stop)) for person in people
    ]
    for client in clients:
        client.start()
    _chaos(processes, ledger, stop)
    for client in clients:
        client.join(timeout=90)
    # A last quiet spell with the worker up, then everything stops before the read-back.
    time.sleep(2)
    processes.stop()

    out = tmp_path / "state.json"
    subprocess.run(  # noqa: S603  (fixed argv)
        [sys.executable, "-m", "portal.core.tests.crash_check", str(out)],
        cwd=processes.project, env=processes.environment, check=True, timeout=120,
    )  # fmt: skip
    state = json.loads(out.read_text())

    assert not ledger.server_errors, ledger.server_errors
    # Enough happened for the test to mean something.
    assert ledger.enough(), ledger

    # Every acknowledged booking is there, once, for that patient and slot.
    appointments = {row["id"]: row for row in state["appointments"]}
    for appointment, slot, patient in ledger.appointments:
        row = appointments.get(appointment)
        assert row is not None, f"acknowledged appointment {appointment} is gone"
        assert (row["slot_id"], row["patient_id"]) == (slot, patient)
    booked_slots = [row["slot_id"] for row in state["appointments"] if row["status"] != "cancelled"]
    assert len(booked_slots) == len(set(booked_slots)), "a slot was booked twice"

    # Every acknowledged message is there once, however often its form was retried.
    for body in ledger.messages:
        assert state["messages"].count(body) == 1, f"{body}: {state['messages'].count(body)} copies"
    assert len(state["messages"]) == len(set(state["messages"])), "a retried message was stored twice"

    # One payment per key; every acknowledged one is there and settled; one ledger entry each.
    by_key: dict[str, list[dict[str, Any]]] = {}
    for payment in state["payments"]:
        by_key.setdefault(payment["idempotency_key"], []).append(payment)
    assert all(len(rows) == 1 for rows in by_key.values())
    assert set(by_key) <= set(ledger.payment_keys)
    # An acknowledged payment may have said "Processing" (the kill came between the charge
    # and its record); reconciling settled it from the gateway's one charge for the key.
    for payment_id, key in ledger.payments:
        (row,) = by_key[key]
        assert row["id"] == payment_id and row["status"] in ("succeeded", "failed"), row
    assert not [row for row in state["payments"] if row["status"] == "pending"]
    charges = dict(state["charges"])
    assert len(charges) == len(state["charges"]), "a key was charged twice"
    for key, rows in by_key.items():
        assert rows[0]["status"] == ("succeeded" if charges.get(key) == "succeeded" else "failed"), (
            rows,
            charges.get(key),
        )
    succeeded = sorted(row["id"] for row in state["payments"] if row["status"] == "succeeded")
    assert sorted(state["ledger_payments"]) == succeeded, "a paid payment is not posted exactly once"

    # The audit chain verifies.
    assert state["audit_rows"] > 0 and state["audit_problems"] == [], state["audit_problems"]

    # Every email and text the writes queued was delivered, exactly once (one mailbox
    # entry per outbox row: a resend after a kill carries the same idempotency key).
    outbound = [row for row in state["outbox"] if row["channel"] in ("email", "sms") and row["due"]]
    assert outbound, "the writes queued no email or text"
    expected = {
        f"outbox-{row['id']}:{row['address']}" if row["channel"] == "email" else f"outbox-{row['id']}"
        for row in outbound
        if not row["cancelled"]
    }
    unsent = [row for row in outbound if not row["sent"] and not row["cancelled"]]
    assert unsent == [], json.dumps(unsent[:5])
    mailbox = state["mailbox"]
    assert len(mailbox) == len(set(mailbox))
    assert expected == set(mailbox), expected ^ set(mailbox)
    assert all(row["sent"] for row in state["outbox"] if row["due"] and not row["cancelled"])
    assert not any(row["sent"] for row in state["outbox"] if not row["due"]), "a reminder went early"

    # How often the provider was handed the same message (a kill between its send and the
    # outbox's mark): each time it kept one copy, as the mailbox check above shows.
    sends = (tmp_path / "sends.log").read_text().split()
    resent = len(sends) - len(set(sends))
    assert set(sends) == {key.split(":")[0] for key in expected if key.count(":")}

    assert "Traceback" not in processes.logs_text(), processes.logs_text()[-5000:]
    print(  # the run's shape, for whoever reads the CI log
        f"kills {processes.kills}, acknowledged {len(ledger.appointments)} bookings, "
        f"{len(ledger.messages)} messages, {len(ledger.payments)} payments; "
        f"{state['settled']} payments reconciled; outbox {len(outbound)} sent by mail/text, {state['drained']} caught up afterwards, "
        f"{resent} handed to the provider again after a kill"
    )
