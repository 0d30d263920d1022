"""Fifty patients press "Book" for the same slot at the same moment, through separate
app-server processes: exactly one gets the appointment, the others are told the time
was just taken, and no request fails with a server error. Repeated over several slots.

Runs on PostgreSQL against the test database, and on SQLite against a file copy of it
(the in-memory test database cannot be shared with other processes).
"""

from __future__ import annotations

import http.client
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from portal.scheduling.models import Appointment, Slot
from portal.scheduling.tests.app_servers import Server, running_servers
from portal.scheduling.tests.support import SchedulingWorld, local_moment, make_slot, scheduling_world
from portal.test import World, make_patient, make_user

BOOKERS = 50
ROUNDS = 3
SERVERS = 3
WORKERS_EACH = 2
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Booker:
    session: str
    csrf_cookie: str = ""
    csrf_token: str = ""


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


@pytest.fixture
def bookers(sw: SchedulingWorld) -> list[Booker]:
    people = []
    for number in range(BOOKERS):
        user = make_user(f"booker{number}")
        make_patient(f"2{number:07d}", f"Booker{number}", "Concurrent", sw.world.campus, account=user)
        client = Client()
        client.force_login(user)
        people.append(Booker(session=client.cookies[settings.SESSION_COOKIE_NAME].value))
    return people


@pytest.fixture
def slots(sw: SchedulingWorld) -> list[Slot]:
    return [make_slot(sw, local_moment(sw.world.campus, 5 + day, 10)) for day in range(ROUNDS)]


@pytest.fixture
def servers(tmp_path: Path, bookers: list[Booker], slots: list[Slot]) -> Iterator[list[Server]]:
    """App servers on the test's data: its PostgreSQL database, or a file copy of SQLite."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        database = {"DATABASE_URL": url}
    else:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        connection.ensure_connection()
        with sqlite3.connect(data_dir / "portal.sqlite3") as copy:
            connection.connection.backup(copy)
        database = {"PORTAL_DATA_DIR": str(data_dir)}
    with running_servers(SERVERS, WORKERS_EACH, database, tmp_path) as started:
        yield started


def _request(
    server: Server, method: str, path: str, cookies: dict[str, str], body: str = ""
) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Referer"] = f"http://{server.host}:{server.port}{path}"
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    set_cookie = "\n".join(response.headers.get_all("Set-Cookie") or [])
    conn.close()
    return response.status, text, set_cookie


def _prepare(booker: Booker, server: Server, path: str) -> None:
    """Open the confirm page as a browser would, keeping its CSRF cookie and token."""
    status, text, set_cookie = _request(server, "GET", path, {settings.SESSION_COOKIE_NAME: booker.session})
    assert status == 200, f"confirm page answered {status}"
    cookie = SimpleCookie()
    cookie.load(set_cookie)
    if settings.CSRF_COOKIE_NAME in cookie:
        booker.csrf_cookie = cookie[settings.CSRF_COOKIE_NAME].value
    match = CSRF_FIELD.search(text)
    assert match is not None
    booker.csrf_token = match.group(1)


def _book_all_at_once(
    bookers: list[Booker], servers: list[Server], path: str, visit_type_id: int
) -> list[int]:
    start = threading.Barrier(len(bookers))

    def press_book(index: int) -> int:
        booker = bookers[index]
        cookies = {settings.SESSION_COOKIE_NAME: booker.session}
        if booker.csrf_cookie:
            cookies[settings.CSRF_COOKIE_NAME] = booker.csrf_cookie
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": booker.csrf_token, "visit_type": visit_type_id, "reason": "check-up"}
        )
        start.wait()
        status, _text, _cookies = _request(servers[index % len(servers)], "POST", path, cookies, body)
        return status

    with ThreadPoolExecutor(max_workers=len(bookers)) as pool:
        return list(pool.map(press_book, range(len(bookers))))


def _appointments_holding(slot: Slot, tmp_path: Path) -> int:
    if connection.vendor == "postgresql":
        return Appointment.objects.filter(slot=slot).exclude(status=Appointment.Status.CANCELLED).count()
    with sqlite3.connect(tmp_path / "data" / "portal.sqlite3") as copy:
        (count,) = copy.execute(
            "SELECT COUNT(*) FROM scheduling_appointment WHERE slot_id = ? AND status != 'cancelled'",
            [slot.pk],
        ).fetchone()
    return int(count)


@pytest.mark.long
def test_fifty_concurrent_bookers_get_one_appointment(
    sw: SchedulingWorld, bookers: list[Booker], slots: list[Slot], servers: list[Server], tmp_path: Path
) -> None:
    for slot in slots:
        path = reverse("booking:confirm", args=[slot.pk])
        for index, booker in enumerate(bookers):
            _prepare(booker, servers[index % len(servers)], f"{path}?visit_type={sw.follow_up.pk}")
        statuses = _book_all_at_once(bookers, servers, path, sw.follow_up.pk)
        assert not [status for status in statuses if status >= 500], statuses
        assert statuses.count(302) == 1, statuses
        assert statuses.count(409) == BOOKERS - 1, statuses
        assert _appointments_holding(slot, tmp_path) == 1
    for server in servers:
        assert "Traceback" not in server.log.read_text(errors="replace"), server.log.read_text(
            errors="replace"
        )
