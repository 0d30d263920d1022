"""Everything a patient sees in Spanish is in Spanish: pages, emails, texts and PDFs.

Pages are found by walking: from the home page, as the patient and as a proxy, every
patient-side link is followed (a few of each URL pattern), over a clinic filled with
each area's data in turn. Every email template is rendered, every fixed email and text
message composed, and every PDF a link leads to is read. Any English left is listed.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone, translation

from portal.accounts.models import User
from portal.core.tests.untranslated import calendar_text, english_in, html_text, pdf_text, plain_text
from portal.test import World

# Run in the SQLite phase only: translations do not depend on the engine.
pytestmark = pytest.mark.any_database

# Where the patient side ends: staff, developer and machine endpoints are not for patients.
NOT_PATIENT_FACING = (
    "/staff/",
    "/admin/",
    "/fhir/",
    "/oauth/",
    "/developers/",
    "/demo/",
    "/i18n/",
    "/static/",
    "/media/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/billing/sandbox-gateway/",
)
# Distinct addresses visited per URL pattern: two states of each page for the patient, and
# one for the proxy (the same templates, seen through the proxy's narrower access).
PER_PATTERN = {"patient": 2, "proxy": 1}
MAX_PAGES = 400
SPANISH_DATE = re.compile(r"\b\d{1,2} de [a-z]+ de \d{4}\b")
HREF = re.compile(r"""href="([^"#]+)""")

# Data shown as it was entered, in no language: test personas, places, codes, drug names.
ALLOWED = (
    "Family Medicine, Rochester",
    "Rochester scheduling desk",
    "200 First Street SW",
)


# Stored as entered by the clinic (names, addresses, questionnaire wording): data, not interface.
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


@dataclass
class Walk:
    """What a walk saw: pages per persona, PDFs read, and the English found on each."""

    pages: int = 0
    pdfs: int = 0
    calendars: int = 0
    spanish_dates: int = 0  # "24 de noviembre de 2026", as Django's Spanish formats write dates
    english: list[str] = field(default_factory=list)
    patterns: Counter[str] = field(default_factory=Counter)


def spanish_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    return client


def data_strings() -> set[str]:
    """Every short string stored in the test database's patient-side data: it is shown as entered."""
    from django.apps import apps

    skipped = {"notifications", "audit", "sessions", "admin", "contenttypes", "auth"}
    found: set[str] = set()
    for model in apps.get_models():
        if model._meta.app_label in skipped:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS) and not f.choices]
        if not fields:
            continue
        for row in model._default_manager.values_list(*(f.name for f in fields)):
            found.update(_strings(row))
    return found


def _strings(value: object) -> Iterator[str]:
    """The strings in a value, however deep in lists and dicts (a questionnaire's JSON)."""
    if isinstance(value, str) and value.strip():
        yield value.strip()
    elif isinstance(value, dict):
        yield from _strings(list(value.values()))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def patient_facing(path: str) -> bool:
    return path.startswith("/") and not path.startswith(NOT_PATIENT_FACING)


def pattern_of(path: str) -> str | None:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.route or match.view_name


def walk(client: Client, start: Iterable[str], allowed: Iterable[str], into: Walk, who: str) -> None:
    """Visit patient-facing pages breadth first, noting English on each."""
    allowed = list(allowed)
    queue = deque(start)
    seen: set[str] = set()
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        pattern = pattern_of(path)
        if path in seen or pattern is None or into.patterns[f"{who}:{pattern}"] >= PER_PATTERN[who]:
            continue
        seen.add(path)
        into.patterns[f"{who}:{pattern}"] += 1
        response = client.get(path)
        if response.status_code in (301, 302, 303, 307, 308):
            queue.append(urljoin(path, response["Location"]))
            continue
        if response.status_code >= 500:
            into.english.append(f"{who} {path}: answered {response.status_code}")
            continue
        if response.status_code != 200:
            continue
        _check(response, path, who, allowed, into, queue)


def _check(response: Any, path: str, who: str, allowed: list[str], into: Walk, queue: deque[str]) -> None:
    kind = response.get("Content-Type", "")
    if kind.startswith("application/pdf"):
        into.pdfs += 1
        chunks = pdf_text(b"".join(response.streaming_content) if response.streaming else response.content)
    elif kind.startswith("text/html"):
        into.pages += 1
        html = response.content.decode()
        chunks = html_text(html)
        for link in HREF.findall(html):
            target = urljoin(path, link.replace("&amp;", "&"))
            if patient_facing(target):
                queue.append(target)
    elif kind.startswith("text/calendar"):
        into.calendars += 1
        chunks = calendar_text(response.content.decode())
    else:
        return
    into.spanish_dates += sum(bool(SPANISH_DATE.search(chunk)) for chunk in chunks)
    into.english.extend(f"{who} {path}: {chunk!r}" for chunk in english_in(chunks, allowed))


def walk_as_patient_and_proxy(world: World, extra: Iterable[str] = ()) -> Walk:
    allowed = sorted({*ALLOWED, *data_strings()}, key=len, reverse=True)
    seen = Walk()
    start = ["/", *extra]
    walk(spanish_client(world.alice_user), start, allowed, seen, "patient")
    walk(spanish_client(world.proxy_user), start, allowed, seen, "proxy")
    return seen


def no_english(seen: Walk) -> None:
    assert seen.pages > 5
    assert not seen.english, f"{len(seen.english)} English strings on Spanish pages:\n" + "\n".join(
        sorted(set(seen.english))
    )


# Each area's own test data, built on the shared world (one area per test: their
# builders each make their own departments and schedules).
def _records(world: World, tmp: Path) -> list[str]:
    from portal.browser_tests.test_record_every_page import full_record
    from portal.records.sections import SECTIONS

    full_record(world)
    # Every section but one, so the PDF is made here rather than redirected to the whole record.
    sections = "&".join(f"sections={slug}" for slug in list(SECTIONS)[1:])
    return [
        "/record/",
        "/record/download/",
        f"/record/download/pdf/?{sections}",
        f"/record/download/print/?{sections}",
        "/record/sharing/",
        "/record/corrections/",
    ]


def _scheduling(world: World, tmp: Path) -> list[str]:
    from portal.browser_tests.test_scheduling_every_page import build

    build(world)
    return ["/appointments/", "/appointments/book/", "/appointments/requests/", "/appointments/earlier/"]


def _messaging(world: World, tmp: Path) -> list[str]:
    from portal.browser_tests.test_messaging_every_page import build
    from portal.messaging.tests.support import messaging_world

    build(messaging_world(world))
    return ["/messages/", "/messages/refills/", "/referrals/", "/notifications/"]


def _billing(world: World, tmp: Path) -> list[str]:
    from portal.billing.tests.support import billing_world
    from portal.browser_tests.test_billing_every_page import build

    build(billing_world(world))
    return ["/billing/"]


def _telehealth(world: World, tmp: Path) -> list[str]:
    from portal.browser_tests.test_telehealth_every_page import build

    build(world)
    return ["/video/", "/e-visits/", "/appointments/"]


def _account(world: World, tmp: Path) -> list[str]:
    return ["/profile/", "/proxies/", "/record-access/", "/apps/", "/accounts/", "/notifications/"]


AREAS: dict[str, Callable[[World, Path], list[str]]] = {
    "records": _records,
    "scheduling": _scheduling,
    "messaging": _messaging,
    "billing": _billing,
    "telehealth": _telehealth,
    "account": _account,
}


# The PDFs each area's pages link to: the record export, a statement and a receipt.
AREA_PDFS = {"records": 1, "billing": 2}


@pytest.mark.parametrize("area", AREAS)
def test_every_patient_page_is_in_spanish(
    area: str, world: World, settings: Any, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Spanish chosen in the profile (news is composed in it) and in the switcher (the cookie).
    world.alice.preferred_language = "es"
    world.alice.save(update_fields=["preferred_language"])
    # The data is made as people acting in Spanish would make it (a referral's summary is
    # written in the language of whoever asks).
    with translation.override("es"):
        extra = AREAS[area](world, tmp_path)
    seen = walk_as_patient_and_proxy(world, extra)
    for name in ("pages", "pdfs", "calendars"):
        record_property(name, getattr(seen, name))  # counted in the JUnit report
    assert seen.pdfs >= AREA_PDFS.get(area, 0)
    assert seen.spanish_dates > 0
    no_english(seen)


# Emails: every template the portal (and allauth, for sign-in emails) sends, rendered in
# Spanish with a context that fills the common names, so only the wording is judged.


def email_templates() -> list[str]:
    """Every email template name a patient may be sent, found in the template folders."""
    from django.template.utils import get_app_template_dirs

    names: set[str] = set()
    project_dirs: list[Path] = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]  # type: ignore[attr-defined]
    for directory in [*project_dirs, *get_app_template_dirs("templates")]:
        root = Path(directory)
        for found in root.rglob("*.txt"):
            relative = found.relative_to(root).as_posix()
            if "/email/" in relative and not relative.startswith(("staff", "admin")):
                names.add(relative)
    return sorted(names)


def email_context(world: World) -> dict[str, Any]:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "site_name": settings.SITE_NAME,
        "user": world.alice_user,
        "patient": world.alice,
        "username": "alice",
        "usernames": ["alice"],
        "email": "alice@example.org",
        "code": "123456",
        "password_reset_url": "https://portal.example.org/reset",
        "activate_url": "https://portal.example.org/confirm",
        "login_url": "https://portal.example.org/accounts/login/",
        "confirm_url": "https://portal.example.org/confirm",
        "accept_url": "https://portal.example.org/accept",
        "register_url": "https://portal.example.org/register",
        "requests_url": "https://portal.example.org/requests",
        "site_root": "https://portal.example.org/",
        "clinic_number": world.alice.clinic_number,
        "zone_label": world.campus.zone_label,
        "contact": {"name": "Rochester", "phone": world.campus.main_phone, "email": ""},
        "scope_labels": [],
    }


def test_every_email_is_in_spanish(world: World) -> None:
    from django.template.loader import render_to_string

    names = email_templates()
    assert len(names) > 20
    english: list[str] = []
    context = email_context(world)
    with translation.override("es"):
        for name in names:
            text = render_to_string(name, context)
            english.extend(f"{name}: {chunk!r}" for chunk in english_in(plain_text(text), ALLOWED))
    assert not english, "English in Spanish emails:\n" + "\n".join(english)


def test_every_notification_email_and_text_is_in_spanish(world: World, settings: Any) -> None:
    from portal.notifications.models import OutboxMessage
    from portal.notifications.outbound import OUTBOUND
    from portal.notifications.outbox import compose_email, sms_body
    from portal.notifications.send import queue

    settings.SITE_ROOT = "https://portal.example.org/"
    world.alice.preferred_language = "es"
    world.alice.save(update_fields=["preferred_language"])
    english: list[str] = []
    for (kind, event), (subject, body) in OUTBOUND.items():
        with translation.override("es"):
            subject_es, body_es = translation.gettext(subject), translation.gettext(body)
        for channel in (OutboxMessage.Channel.EMAIL, OutboxMessage.Channel.SMS):
            key = f"spanish.{kind}.{event}"
            queue(world.alice_user, world.alice, channel, kind, key, subject_es, body_es, "/", timezone.now())
            message = OutboxMessage.objects.get(dedupe_key=f"{key}:{world.alice_user.pk}:{channel}")
            message.unsubscribe_token = "t" * 32
            email = compose_email(message, "alice@example.org")
            text = (
                [str(email.subject), str(email.body)]
                if channel == OutboxMessage.Channel.EMAIL
                else [sms_body(message)]
            )
            english.extend(
                f"{channel} {kind}/{event}: {chunk!r}" for chunk in english_in(plain_text("\n".join(text)))
            )
    assert len(OUTBOUND) > 5
    assert not english, "English in Spanish emails and texts:\n" + "\n".join(english)
