"""The load generator: simulated patients browsing the portal over HTTP (asyncio + aiohttp).

Each simulated patient loops: pick an action from `MIX`, do it (one or a few requests),
think for a while, repeat. Requests go round-robin to the app servers, as a load
balancer without sticky sessions would send them. Nothing here imports Django: it only
speaks HTTP, so its own CPU is all the client costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# A password only the load test's own sign-ins use; the benchmark database is not real.
SIGN_IN_PASSWORD = "load-test-password-2026"  # noqa: S105


@dataclass(frozen=True)
class SimulatedPatient:
    username: str
    session_cookie: str  # the value of settings.SESSION_COOKIE_NAME
    can_sign_in: bool  # has SIGN_IN_PASSWORD


# Action weights: a patient mostly looks at the dashboard, results and messages, searches
# for a time now and then, books rarely, and signs in afresh once in a while.
MIX: dict[str, int] = {
    "dashboard": 22,
    "results": 14,
    "result": 14,
    "messages": 10,
    "thread": 10,
    "booking search": 20,
    "book": 3,
    "sign in": 7,
}
# Every request type the mix makes (an action can be several requests).
REQUEST_TYPES = (
    "dashboard", "results", "result", "messages", "thread",
    "booking start", "booking times", "booking confirm", "book",
    "sign-in page", "sign in",
)  # fmt: skip

RESULT_LINK = re.compile(r'href="/record/results/(\d+)/"')
THREAD_LINK = re.compile(r'href="/messages/(\d+)/"')
VISIT_TYPE = re.compile(r'name="visit_type" value="(\d+)"')
CAMPUS = re.compile(r'name="campus" value="(\d+)"')
SLOT_LINK = re.compile(r'href="/appointments/book/slot/(\d+)/')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Sample:
    kind: str
    status: int  # 0 when the request failed without an answer
    started: float
    seconds: float
    ok: bool
    note: str = ""


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)


class Unexpected(Exception):
    pass


class Patient:
    """One simulated patient with their own cookies and what they have seen so far."""

    def __init__(
        self, account: SimulatedPatient, servers: Sequence[str], stats: Stats, session_cookie_name: str
    ):
        self.account = account
        self.servers = itertools.cycle(servers)
        self.stats = stats
        self.session_cookie_name = session_cookie_name
        self.results: list[str] = []
        self.threads: list[str] = []
        self.search: str | None = None  # the booking times URL this patient searches
        self.visit_type = ""
        self.booked = False
        self.last_status = 0
        self.http = self._client(account.session_cookie)

    def _client(self, session_cookie: str | None) -> aiohttp.ClientSession:
        # unsafe: the jar keeps cookies for an IP address (127.0.0.1); ports share them,
        # so a session works on every server, as behind a real load balancer.
        jar = aiohttp.CookieJar(unsafe=True)
        if session_cookie:
            jar.update_cookies({self.session_cookie_name: session_cookie})
        return aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=60))

    async def request(
        self, kind: str, method: str, path: str, expect: tuple[int, ...] = (200,), **kw: Any
    ) -> str:
        url = next(self.servers) + path
        started = time.monotonic()
        try:
            async with self.http.request(method, url, allow_redirects=False, **kw) as response:
                body = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as failure:
            self.stats.samples.append(
                Sample(kind, 0, started, time.monotonic() - started, False, repr(failure))
            )
            raise Unexpected(kind) from failure
        location = response.headers.get("Location", "")
        # A redirect to a sign-in or two-factor page means the session is not signed in.
        ok = status in expect and not location.startswith("/accounts/")
        note = "" if ok else f"{self.account.username}: {method} {path} -> {status} {location}"
        self.stats.samples.append(Sample(kind, status, started, time.monotonic() - started, ok, note))
        self.last_status = status
        if not ok:
            raise Unexpected(note)
        return body

    async def act(self, action: str) -> None:
        if action == "dashboard":
            await self.request("dashboard", "GET", "/")
        elif action == "results" or (action == "result" and not self.results):
            self.results = RESULT_LINK.findall(await self.request("results", "GET", "/record/results/"))
        elif action == "result":
            await self.request("result", "GET", f"/record/results/{random.choice(self.results)}/")
        elif action == "messages" or (action == "thread" and not self.threads):
            self.threads = THREAD_LINK.findall(await self.request("messages", "GET", "/messages/"))
        elif action == "thread":
            await self.request("thread", "GET", f"/messages/{random.choice(self.threads)}/")
        elif action == "booking search" or (action == "book" and (self.search is None or self.booked)):
            await self.booking_search()
        elif action == "book":
            await self.book()
        elif action == "sign in":
            await self.sign_in() if self.account.can_sign_in else await self.request("dashboard", "GET", "/")

    async def booking_search(self) -> list[str]:
        """The times on offer; the first time, find a visit type and campus as a patient would."""
        if self.search is None:
            start = await self.request("booking start", "GET", "/appointments/book/")
            types = VISIT_TYPE.findall(start)
            if not types:
                raise Unexpected("no visit type to book")
            self.visit_type = random.choice(types)
            page = await self.request(
                "booking start", "GET", f"/appointments/book/?visit_type={self.visit_type}"
            )
            campuses = CAMPUS.findall(page) or [""]
            self.search = (
                f"/appointments/book/times/?visit_type={self.visit_type}&campus={campuses[0]}&clinician="
            )
        return SLOT_LINK.findall(await self.request("booking times", "GET", self.search))

    async def book(self) -> None:
        """Take one of the times found (at most one booking a patient). Another patient
        taking it first (409) or the clinic's rules refusing it (400) are answers, not errors."""
        slots = await self.booking_search()
        if not slots:
            return
        path = f"/appointments/book/slot/{random.choice(slots[:5])}/"
        page = await self.request(
            "booking confirm", "GET", f"{path}?visit_type={self.visit_type}", expect=(200, 400, 404, 409)
        )
        token = CSRF.search(page)
        if self.last_status != 200 or token is None:
            # Taken (409) or gone (404) between the search and the click, or refused by the
            # clinic's rules (400: a visit of this kind already booked, say).
            return
        data = {"csrfmiddlewaretoken": token.group(1), "visit_type": self.visit_type, "reason": "Load test"}
        await self.request("book", "POST", path, expect=(302, 409, 400), data=data)
        self.booked = True

    async def sign_in(self) -> None:
        """A fresh sign-in with the password, in a new cookie jar (a new browser)."""
        await self.http.close()
        self.http = self._client(None)
        page = await self.request("sign-in page", "GET", "/accounts/login/")
        token = CSRF.search(page)
        if token is None:
            raise Unexpected("sign-in page without a CSRF token")
        data = {
            "csrfmiddlewaretoken": token.group(1),
            "login": self.account.username,
            "password": SIGN_IN_PASSWORD,
        }
        await self.request("sign in", "POST", "/accounts/login/", expect=(302,), data=data)


async def run_patient(patient: Patient, until: float, think: float, rng: random.Random) -> None:
    actions, weights = list(MIX), list(MIX.values())
    # Arrive spread over the first seconds rather than all at once.
    await asyncio.sleep(rng.uniform(0, min(think * 2, 5.0)))
    try:
        while time.monotonic() < until:
            # An unexpected answer is recorded as an error sample; the patient carries on.
            with contextlib.suppress(Unexpected):
                await patient.act(rng.choices(actions, weights)[0])
            await asyncio.sleep(rng.expovariate(1 / think) if think > 0 else 0)
    finally:
        await patient.http.close()


def run(
    accounts: Sequence[SimulatedPatient],
    servers: Sequence[str],
    duration: float,
    think: float,
    session_cookie_name: str,
    seed: int = 10,
) -> tuple[Stats, float, float]:
    """Run the simulated patients for `duration` seconds; returns the samples, when the
    run started (monotonic) and the client's own CPU seconds."""
    stats = Stats()
    cpu_before = _cpu_seconds()

    async def main() -> float:
        started = time.monotonic()
        until = started + duration
        rng = random.Random(seed)
        patients = []
        for index, account in enumerate(accounts):
            # Each patient starts on a different server, so the round-robin is even.
            rotated = list(servers[index % len(servers) :]) + list(servers[: index % len(servers)])
            patients.append(Patient(account, rotated, stats, session_cookie_name))
        await asyncio.gather(*(run_patient(p, until, think, random.Random(rng.random())) for p in patients))
        return started

    # A loop of its own, in a thread of its own: the caller may already run an event loop
    # (Playwright's sync API leaves one in a pytest worker that ran browser tests).
    with ThreadPoolExecutor(max_workers=1) as runner:
        started = runner.submit(asyncio.run, main()).result()
    return stats, started, _cpu_seconds() - cpu_before


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
