"""Running the access matrix: plan the tries, make the requests, judge the answers.

What each answer may be, by the kind of route and persona:

- never a 5xx, and never (for someone with no grant to the victim) a body carrying the
  victim's `MARKER`;
- a URL naming one of the victim's rows, asked for by someone it is foreign to, must be
  answered exactly as the same URL naming a row that does not exist (status, redirect
  target, and body once per-render noise is removed), and that answer must be a refusal:
  404 (the access helpers), 302/303 to sign in (anonymous), 401/403 (FHIR without a
  usable token, OAuth), 400 (a FHIR request the server cannot read) or 405 (a method the
  view does not take);
- anonymous visitors get only those refusals on every route `matrix.PUBLIC` does not list;
- nothing anyone sends changes the victim's rows (`fingerprint`, compared around the run).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.db import transaction
from django.http import HttpResponse
from django.test import Client

from portal.fhir.api.registry import resource_types
from portal.security_tests import matrix
from portal.security_tests.matrix_objects import MARKER, Victim
from portal.test import PER_RENDER

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSALS = {302, 303, 400, 401, 403, 404, 405}
# Where a refusal may send someone: to sign in (or confirm who they are), staff to their
# workspace, patients home, the admin's own pages to the admin's sign-in.
REFUSAL_REDIRECTS = ("/accounts/login/", "/accounts/reauthenticate/", "/admin/", "/staff/")


@dataclass(frozen=True)
class Attempt:
    """One URL of a route: its kinds by argument (a FHIR type fixes type_name)."""

    route: matrix.Route
    kinds: dict[str, str]
    fixed: dict[str, str]
    label: str


@dataclass
class Persona:
    """Someone asking: a signed-in client (or not), a FHIR token, and their scopes on the victim."""

    name: str
    client: Client
    token: str | None = None
    # None: no grant to the victim at all (then the victim's marker must never show).
    scopes: frozenset[str] | None = None

    def foreign(self, readers: list[frozenset[str]]) -> bool:
        if self.scopes is None:
            return bool(readers)
        return any(not (reader & self.scopes) for reader in readers)


@dataclass
class Tally:
    routes: set[str] = field(default_factory=set)
    urls: int = 0
    tries: Counter[str] = field(default_factory=Counter)  # by method
    personas: set[str] = field(default_factory=set)
    requests: int = 0

    def header(self, where: str) -> str:
        total = sum(self.tries.values())
        methods = ", ".join(f"{method} {count}" for method, count in sorted(self.tries.items()))
        return (
            f"access matrix {where}: {len(self.routes)} routes ({self.urls} URLs) x "
            f"{len(self.personas)} personas x {len(self.tries)} methods = {total} tries "
            f"({methods}); {self.requests} requests"
        )


def methods_for(persona: Persona, attempt: Attempt, target: Urls) -> tuple[str, ...]:
    """Which methods `persona` tries on one URL; () skips it.

    Every persona sends GET and POST to every URL naming the victim's rows. The rest is
    trimmed so the matrix stays fast: PUT, PATCH and DELETE come from the other patient
    (signed in, so the request gets past sign-in to the view's own method and access
    checks); pages naming no row are asked by one persona of each sort (patient, proxy,
    staff, anonymous); the Django admin (superusers only, no patient data) by anonymous
    and staff, which it sends to its sign-in.
    """
    if attempt.route.name.startswith("admin:"):
        return ("GET", "POST") if persona.name in ("anonymous", "unassigned_staff") else ()
    if persona.scopes is not None and not persona.foreign(target.readers):
        return ()  # a proxy of the victim may see this one: not a cross-patient try
    if persona.name == "other_patient":
        return METHODS
    if not target.readers and persona.scopes is not None:
        return ()
    return ("GET", "POST")


def unknown_arguments() -> list[str]:
    """Every route argument the registry cannot fill, as 'route: arg'."""
    problems = []
    for route in matrix.routes():
        problems += [f"{route.name}: {arg}" for arg in route.args if _kind(route, arg) is None]
    problems += [f"FHIR type {name}" for name in resource_types() if name not in matrix.FHIR_TYPES]
    return problems


def _kind(route: matrix.Route, arg: str) -> str | None:
    if route.name in ("fhir_api:read", "fhir_api:search", "fhir_api:search_post") and arg in (
        "type_name",
        "resource_id",
    ):
        return "fhir"
    return matrix.kind_for(route, arg)


def attempts(route: matrix.Route) -> list[Attempt]:
    kinds = {arg: str(_kind(route, arg)) for arg in route.args}
    if "type_name" not in route.args:
        return [Attempt(route, kinds, {}, route.name)]
    return [
        Attempt(route, kinds, {"type_name": name}, f"{route.name} {name}")
        for name in sorted(resource_types())
    ]


@dataclass(frozen=True)
class Urls:
    foreign: str
    missing: str
    readers: list[frozenset[str]]  # of the victim's rows the URL names
    swaps: list[tuple[str, str]]  # foreign value -> missing value, for comparing bodies


def urls(attempt: Attempt, victim: Victim) -> Urls:
    foreign: dict[str, Any] = dict(attempt.fixed)
    missing: dict[str, Any] = dict(attempt.fixed)
    readers: list[frozenset[str]] = []
    swaps: list[tuple[str, str]] = []
    for arg, kind_name in attempt.kinds.items():
        if arg in attempt.fixed:
            continue
        if kind_name == "fhir":
            value, gone, reader = _fhir_id(attempt.fixed["type_name"], victim)
        else:
            kind = matrix.KINDS[kind_name]
            value, gone, reader = kind.make(victim), kind.missing, kind.readers
        foreign[arg] = value
        missing[arg] = gone if reader is not None else value
        if reader is not None:
            readers.append(reader)
            swaps.append((str(value), str(gone)))
    foreign_path, missing_path = attempt.route.path(foreign), attempt.route.path(missing)
    quoted = (quote(foreign_path, safe=""), quote(missing_path, safe=""))
    return Urls(foreign_path, missing_path, readers, [(foreign_path, missing_path), quoted, *swaps])


def _fhir_id(type_name: str, victim: Victim) -> tuple[str, str, frozenset[str] | None]:
    label, prefix = matrix.FHIR_TYPES[type_name]
    gone = f"{prefix}-{matrix.MISSING_ID}"
    if not label:
        return f"{prefix}-{victim.world.campus.pk}", gone, None
    if label == "patients.patient":
        return f"{prefix}-{victim.patient.pk}", gone, matrix.VIEW
    kind = matrix.owned(label, matrix.SCHEDULE if "appointment" in label else matrix.VIEW)
    return f"{prefix}-{kind.make(victim)}", gone, kind.readers


def fingerprint(victim: Victim) -> dict[str, tuple[int, str]]:
    """Count and digest of the victim's rows in every patient-owned model."""
    prints: dict[str, tuple[int, str]] = {}
    for model, lookup in matrix.patient_owned_models():
        rows = sorted(
            repr(sorted(row.items()))
            for row in model._default_manager.filter(**{lookup: victim.patient}).values()
        )
        prints[model._meta.label] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    for label, manager, pk in (
        ("patients.Patient (the victim)", type(victim.patient)._default_manager, victim.patient.pk),
        ("accounts.User (the victim)", type(victim.user)._default_manager, victim.user.pk),
    ):
        row = repr(sorted(manager.filter(pk=pk).values().get().items()))
        prints[label] = (1, hashlib.sha256(row.encode()).hexdigest())
    return prints


def send(persona: Persona, method: str, path: str, data: dict[str, str]) -> HttpResponse | str:
    """The response, or the exception the view raised (as text: a crash is a 5xx)."""
    headers = {}
    if persona.token and path.startswith(("/fhir/", "/oauth/")):
        headers["Authorization"] = f"Bearer {persona.token}"
    call: Any = getattr(persona.client, method.lower())
    try:
        with transaction.atomic():
            if method == "GET":
                return call(path, headers=headers)
            if method == "POST":
                return call(path, data, headers=headers)
            if method == "DELETE":
                return call(path, headers=headers)
            body = "&".join(f"{key}={value}" for key, value in data.items())
            return call(path, body, content_type="application/x-www-form-urlencoded", headers=headers)
    except Exception as exc:  # any crash in a view is the finding, reported rather than raised
        return f"{type(exc).__name__}: {exc}"


def content(response: HttpResponse) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content


def judge(
    persona: Persona, attempt: Attempt, method: str, target: Urls, data: dict[str, str], tally: Tally
) -> list[str]:
    """The problems with one (route, persona, method), as readable lines."""
    where = f"{attempt.label} {method} as {persona.name} {target.foreign}"
    answer = send(persona, method, target.foreign, data)
    tally.requests += 1
    if isinstance(answer, str):
        return [f"{where}: crashed: {answer[:300]}"]
    body = content(answer)
    problems = []
    if answer.status_code >= 500:
        problems.append(f"{where}: {answer.status_code}")
    if persona.scopes is None and MARKER.encode() in body:
        problems.append(f"{where}: {answer.status_code} shows the other patient's data")
    if persona.foreign(target.readers):
        problems += _same_as_missing(persona, method, target, data, answer, body, where, tally)
    elif persona.name == "anonymous" and attempt.route.name not in matrix.PUBLIC:
        problems += _refused(answer, where)
    return problems


def _same_as_missing(
    persona: Persona,
    method: str,
    target: Urls,
    data: dict[str, str],
    answer: HttpResponse,
    body: bytes,
    where: str,
    tally: Tally,
) -> list[str]:
    missing = send(persona, method, target.missing, data)
    tally.requests += 1
    if isinstance(missing, str):
        return [f"{where}: the missing-object request crashed: {missing[:300]}"]
    problems = _refused(answer, where)
    if (answer.status_code, _location(answer, target)) != (missing.status_code, missing.get("Location")):
        problems.append(
            f"{where}: foreign {answer.status_code} {answer.get('Location', '')} "
            f"but missing {missing.status_code} {missing.get('Location', '')}"
        )
    elif _normal(body, target) != _normal(content(missing), None) and _normal(
        content(_again(persona, method, target.foreign, data, tally)), target
    ) != _normal(content(missing), None):
        # Asked once more: the first answer may have shown a message queued by an earlier request.
        problems.append(f"{where}: foreign and missing answers differ in body ({answer.status_code})")
    return problems


def _again(persona: Persona, method: str, path: str, data: dict[str, str], tally: Tally) -> HttpResponse:
    tally.requests += 1
    answer = send(persona, method, path, data)
    return HttpResponse(answer.encode()) if isinstance(answer, str) else answer


def _refused(answer: HttpResponse, where: str) -> list[str]:
    if answer.status_code not in REFUSALS:
        return [f"{where}: answered {answer.status_code}, not a refusal"]
    location = answer.get("Location", "")
    if answer.status_code in (302, 303) and not location.startswith(REFUSAL_REDIRECTS) and location != "/":
        return [f"{where}: redirects to {location}, not to sign in"]
    return []


def _location(answer: HttpResponse, target: Urls) -> str | None:
    location = answer.get("Location")
    if location is None:
        return None
    for value, gone in target.swaps[:2]:
        location = location.replace(value, gone)
    return location


def _normal(body: bytes, target: Urls | None) -> bytes:
    body = PER_RENDER.sub(b"", body)
    if target is not None:
        for value, gone in target.swaps:
            if len(value) >= 6:  # a short pk could match unrelated digits
                body = body.replace(value.encode(), gone.encode())
    return body
