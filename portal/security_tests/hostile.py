"""Hostile input: a fixed corpus of nasty values, how to send them, and what a safe answer looks like.

The corpus is fixed (not generated) so every run tries the same values and a failure
reproduces; hypothesis only decides which value goes into which field. Values are sent
as raw urlencoded bytes so that what the test client cannot encode (lone surrogates,
invalid UTF-8) still reaches the server, as it would from a hand-written client.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.test import Client
from hypothesis import strategies as st

from portal.accounts.models import User
from portal.patients.models import Patient


@dataclass(frozen=True)
class Hostile:
    """One hostile value: a label for reports and the bytes sent (already UTF-8, or deliberately not)."""

    label: str
    raw: bytes

    @classmethod
    def text(cls, label: str, value: str) -> Hostile:
        # surrogatepass: a lone surrogate goes out as the bytes a careless encoder would send.
        return cls(label, value.encode("utf-8", "surrogatepass"))

    def as_str(self) -> str:
        """The value as a Python string (what a form sees after Django decodes the request)."""
        return self.raw.decode("utf-8", "replace")


CORPUS: tuple[Hostile, ...] = (
    Hostile.text("long-ascii", "A" * 10_050),
    Hostile.text("long-multibyte", "\u00e9\U0001f600" * 5_000),
    Hostile.text("nul", "\x00"),
    Hostile.text("embedded-nul", "Alice\x00Able"),
    Hostile.text("lone-surrogate", "x\ud800y"),
    Hostile("invalid-utf8", b"\xff\xfe\xc3("),
    Hostile.text("rtl-override", "\u202etxt.exe\u202c"),
    Hostile.text("combining-marks", "Z" + "\u0301\u0336\u0489" * 60),
    Hostile.text("emoji-zwj", "\U0001f469\U0001f3fd\u200d\u2695\ufe0f\U0001f9ec"),
    Hostile.text("full-width-digits", "\uff11\uff12\uff13\uff14"),
    Hostile.text("zero-width-bom", "\ufeff\u200b\u200d"),
    Hostile.text("sql-or", "' OR 1=1 --"),
    Hostile.text("sql-drop", "1; DROP TABLE patients_patient; --"),
    Hostile.text("sql-quote", '" OR ""="'),
    Hostile.text("template-expr", "{{ 7*7 }}"),
    Hostile.text("template-tag", "{% debug %}"),
    Hostile.text("template-settings", "{{ settings.SECRET_KEY }}"),
    Hostile.text("xss", "<script>alert(1)</script>"),
    Hostile.text("path-dots", "../../etc/passwd"),
    Hostile.text("path-encoded", "%2e%2e/%2e%2e/etc/passwd"),
    Hostile.text("path-windows", "..\\..\\windows\\win.ini"),
    Hostile.text("header-crlf", "a\r\nSet-Cookie: hostile=1"),
    Hostile.text("empty", ""),
    Hostile.text("spaces", "   "),
    Hostile.text("negative", "-1"),
    Hostile.text("huge-int", "99999999999999999999999999"),
    Hostile.text("huge-negative", "-99999999999999999999999999"),
    Hostile.text("float-overflow", "1e400"),
    Hostile.text("nan", "NaN"),
    Hostile.text("infinity", "-Infinity"),
    Hostile.text("hex", "0x7fffffff"),
    Hostile.text("date-zero", "0000-00-00"),
    Hostile.text("datetime-overflow", "9999-12-31T25:61"),
    Hostile.text("date-max", "9999-12-31"),
    Hostile.text("date-min", "0001-01-01"),
    Hostile.text("date-feb-30", "2026-02-30"),
    Hostile.text("json-object", '{"a": [1, {"b": null}]}'),
    Hostile.text("json-array", "[1, 2, 3]"),
    Hostile.text("url-javascript", "javascript:alert(1)"),
    Hostile.text("email-double-at", "a@b@example.org"),
)

# Fewer values for the whole-site HTTP sweep (each costs a page render): one of each kind.
CORE: tuple[Hostile, ...] = tuple(
    value
    for value in CORPUS
    if value.label
    in {
        "long-ascii",
        "nul",
        "lone-surrogate",
        "invalid-utf8",
        "rtl-override",
        "full-width-digits",
        "sql-or",
        "template-tag",
        "xss",
        "path-dots",
        "huge-negative",
        "datetime-overflow",
        "date-zero",
        "json-object",
    }
)


def hostile_values() -> st.SearchStrategy[Hostile]:
    return st.sampled_from(CORPUS)


def encode_form(pairs: Iterable[tuple[str, Hostile | str]]) -> bytes:
    """An application/x-www-form-urlencoded body; repeated names send a list where a scalar is expected."""
    parts = []
    for name, value in pairs:
        raw = value.raw if isinstance(value, Hostile) else value.encode()
        parts.append(quote_from_bytes(name.encode(), safe="") + "=" + quote_from_bytes(raw, safe=""))
    return "&".join(parts).encode("ascii")


def encode_query(pairs: Iterable[tuple[str, Hostile | str]]) -> str:
    return encode_form(pairs).decode("ascii")


FORM = "application/x-www-form-urlencoded"

# What must never be in an answer: a stack trace, Django's debug page, or a secret.
LEAKS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "/[^"]+\.py", line \d+'),
    re.compile(r"DJANGO_SETTINGS_MODULE"),
    re.compile(r"You're seeing this error because you have"),
    re.compile(r"django\.db\.utils\.|psycopg\.errors|sqlite3\.\w+Error"),
)
ALLOWED = {200, 201, 202, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429}


@dataclass
class Tally:
    """What was tried and what went wrong, so one run reports every problem, not only the first."""

    name: str
    requests: int = 0
    inputs: int = 0
    targets: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        return f"{self.name}: {len(self.targets)} targets, {self.inputs} field values in {self.requests} requests"

    def assert_clean(self) -> None:
        print(self.report())
        assert not self.problems, f"{len(self.problems)} problems:\n" + "\n".join(self.problems[:40])


def secrets_in_settings() -> list[str]:
    """Setting values that must never appear in a page (only the long, distinctive ones)."""
    names = ("SECRET_KEY", "STRIPE_SECRET_KEY", "EMAIL_HOST_PASSWORD")
    values = [str(getattr(settings, name, "") or "") for name in names]
    return [value for value in values if len(value) >= 16]


def problems_in(response: Any, where: str) -> list[str]:
    """Why this answer is not a safe one (empty if it is)."""
    problems = []
    status = response.status_code
    if status not in ALLOWED:
        problems.append(f"{where}: status {status}")
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    text = body.decode("utf-8", "replace")
    for pattern in LEAKS:
        if pattern.search(text):
            problems.append(f"{where}: leaks {pattern.pattern!r}")
    for secret in secrets_in_settings():
        if secret in text:
            problems.append(f"{where}: leaks a setting's secret value")
    if "<script>alert(1)</script>" in text and "html" in response.get("Content-Type", ""):
        problems.append(f"{where}: reflects <script> unescaped")
    if "hostile" in response.cookies:
        problems.append(f"{where}: a value set a cookie (header injection)")
    return problems


@contextmanager
def savepoint() -> Iterator[None]:
    """Each request in its own savepoint: a database error (PostgreSQL refusing a NUL) rolls back
    only that request, so the next one runs against the same world, as in production."""
    with transaction.atomic():
        yield


def send(client: Client, tally: Tally, method: str, path: str, where: str, **kwargs: Any) -> Any | None:
    """One request; an unhandled exception (a 500 in production) becomes a problem, not a crash."""
    tally.requests += 1
    try:
        with savepoint():
            response = getattr(client, method)(path, **kwargs)
    except Exception as error:  # any exception here is the bug being looked for
        tally.problems.append(f"{where}: raised {type(error).__name__}: {str(error)[:200]}")
        return None
    tally.problems.extend(problems_in(response, where))
    return response


def post_form(
    client: Client, tally: Tally, path: str, pairs: Sequence[tuple[str, Hostile | str]], where: str
) -> Any:
    tally.inputs += len(pairs)
    return send(client, tally, "post", path, where, data=encode_form(pairs), content_type=FORM)


def post_json(client: Client, tally: Tally, path: str, names: Sequence[str], where: str) -> Any:
    """JSON where form data is expected, with wrong types in every field."""
    body = {name: [1, {"x": None}] for name in names} or {"x": [1]}
    tally.inputs += max(len(names), 1)
    return send(client, tally, "post", path, where, data=json.dumps(body), content_type="application/json")


def rotation(names: Sequence[str], values: Sequence[Hostile], round_: int) -> list[tuple[str, Hostile]]:
    """Round `round_` of a rotation: over len(values) rounds every field gets every value once."""
    return [(name, values[(round_ + index) % len(values)]) for index, name in enumerate(names)]


# --- The other patient's rows, before and after ---------------------------------------------


def _patient_links() -> list[tuple[type[models.Model], str]]:
    links = []
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            is_link = (
                isinstance(model_field, models.ForeignKey | models.OneToOneField) and model_field.concrete
            )
            if is_link and model_field.related_model in (Patient, User):
                links.append((model, model_field.name))
    return links


def fingerprint(patient: Patient, user: User | None) -> dict[str, str]:
    """A digest per table of every row that belongs to this patient (or their account)."""
    digests = {}
    owners: list[tuple[type[models.Model], Any]] = [(Patient, patient)]
    if user is not None:
        owners.append((User, user))
    for model, name in _patient_links():
        if model._meta.app_label == "audit":
            # Reading Bob's record (a system-wide bulk export) rightly logs a read; a log row is not a change.
            continue
        related = model._meta.get_field(name).related_model
        for owner_model, owner in owners:
            if related is owner_model:
                rows = list(model._default_manager.filter(**{name: owner}).order_by("pk").values())
                digests[f"{model._meta.label}.{name}"] = _digest(rows)
    digests["patient"] = _digest([dict(row) for row in Patient.objects.filter(pk=patient.pk).values()])
    if user is not None:
        # last_login moves when bob signs in; he never does here, so any change is someone else's doing.
        digests["user"] = _digest([dict(row) for row in User.objects.filter(pk=user.pk).values()])
    return digests


def _digest(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(repr(rows).encode("utf-8", "surrogatepass")).hexdigest()


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
