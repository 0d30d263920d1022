"""Every upload endpoint against the crafted corpus (`crafted_files.py`).

For each endpoint and each file: the answer is never a 5xx; a refused file gets a clear
message on the re-shown form and leaves no row and no file behind; a kept file is only
one that may be kept (a real image or a clean PDF, whatever its name or claimed type), is
stored under a random name, and comes back as a download the browser may neither sniff
nor render as a page: `Content-Disposition: attachment` with a harmless file name, a
real image or PDF type, `X-Content-Type-Options: nosniff`, and none of the script the
original carried.

Each file is tried inside a savepoint that is rolled back, so every file meets the
endpoint in the same state (no "already asked" refusals from the file before).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing.models import AssistanceApplication
from portal.messaging.models import Attachment, Thread, Topic
from portal.messaging.tests.support import messaging_world, png_upload, start_thread
from portal.patients.access import decide
from portal.patients.models import CareRelationship, Coverage, Patient
from portal.patients.tests.support import sign_in_recently
from portal.proxies.models import ProxyDocument
from portal.scheduling.models import Appointment
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.security_tests.crafted_files import Crafted, corpus
from portal.telehealth import evisits
from portal.telehealth.models import EVisit, EVisitPhoto
from portal.telehealth.tests.support import cold_and_flu
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.django_db

SERVABLE_TYPES = {"image/png", "image/jpeg", "application/pdf", "application/octet-stream"}
# The messages lib/uploads.py gives; a refusal must show one of them (escaped as HTML).
REFUSALS = (
    "The file is empty.",
    "The file is too large.",
    "Upload a",
    "The image has too many pixels.",
    "This is not a complete PDF file.",
    "This PDF contains scripts or embedded files",
    "Choose a photo",
    "The submitted file is empty.",  # Django's own FileField, before ours looks
)
# Where pages show a field's error (includes/field.html) and the summary above the form.
ERROR_TEXT = re.compile(
    r'<p class="error-message"[^>]*>(.*?)</p>|<div class="error-summary".*?</div>', re.DOTALL
)
HOSTILE_BYTES = (b"<script", b"<svg", b"onerror", b"onload", b"/JavaScript", b"/JS ")


@dataclass
class Place:
    """The rows an endpoint needs, made once per test."""

    world: World
    thread: Thread
    evisit: EVisit
    child: Patient
    parent: User
    appointment: Appointment  # Alice's, in three days: open for pre-check-in


@dataclass(frozen=True)
class Endpoint:
    """One way to upload: who posts what where, which rows hold what it kept, and where
    (and as whom) a kept file is downloaded."""

    name: str
    poster: Callable[[Place], User]
    url: Callable[[Place], str]
    data: Callable[[Place, SimpleUploadedFile], dict[str, Any]]
    model: type[models.Model]
    download: Callable[[Place, Any], tuple[User, str]]


def _compose(place: Place, upload: SimpleUploadedFile) -> dict[str, Any]:
    return {
        "topic": Topic.MEDICAL,
        "care_team": place.world.care_team.pk,
        "subject": "A rash",
        "body": "Photo attached.",
        "attachments": [upload],
    }


def _coverage(place: Place, upload: SimpleUploadedFile) -> dict[str, Any]:
    return {
        "priority": "primary",
        "payer_name": "Northwind Health",
        "member_id": "NW987654321",
        "subscriber_name": "Alice Able",
        "subscriber_relationship": "self",
        "effective_from": "2026-01-01",
        "card_front": upload,
    }


def _proxy_request(place: Place, upload: SimpleUploadedFile) -> dict[str, Any]:
    child = place.child
    return {
        "clinic_number": child.clinic_number,
        "given_name": child.given_name,
        "family_name": child.family_name,
        "birth_date": child.birth_date.isoformat(),
        "relationship": "parent",
        "document": upload,
        "confirm": "on",
    }


def _assistance(place: Place, upload: SimpleUploadedFile) -> dict[str, Any]:
    return {
        "household_size": "3",
        "annual_income": "32,000",
        "employment": "part_time",
        "insured": "no",
        "reason": "I lost my job in March.",
        "document": upload,
    }


def _billing_clerk(place: Place) -> User:
    return User.objects.get(username="bill")


ENDPOINTS = (
    Endpoint(
        "message-new",
        lambda place: place.world.alice_user,
        lambda place: reverse("messaging:new"),
        _compose,
        Attachment,
        lambda place, row: (place.world.alice_user, reverse("messaging:attachment", args=[row.pk])),
    ),
    Endpoint(
        "message-reply",
        lambda place: place.world.alice_user,
        lambda place: reverse("messaging:reply", args=[place.thread.pk]),
        lambda place, upload: {"body": "Photo attached.", "attachments": [upload]},
        Attachment,
        lambda place, row: (place.world.clinician, reverse("inbox:attachment", args=[row.pk])),
    ),
    Endpoint(
        "staff-reply",
        lambda place: place.world.clinician,
        lambda place: reverse("inbox:reply", args=[place.thread.pk]),
        lambda place, upload: {"body": "See attached.", "status": "closed", "attachments": [upload]},
        Attachment,
        lambda place, row: (place.world.alice_user, reverse("messaging:attachment", args=[row.pk])),
    ),
    Endpoint(
        "staff-start-thread",
        lambda place: place.world.clinician,
        lambda place: reverse("inbox:start", args=[place.world.alice.pk]),
        lambda place, upload: {
            "pool": place.world.care_team.pk,
            "topic": Topic.MEDICAL,
            "subject": "Your results",
            "body": "See attached.",
            "status": Thread.Status.WAITING_ON_PATIENT,
            "attachments": [upload],
        },
        Attachment,
        lambda place, row: (place.world.alice_user, reverse("messaging:attachment", args=[row.pk])),
    ),
    Endpoint(
        "insurance-card",
        lambda place: place.world.alice_user,
        lambda place: reverse("billing:insurance_add"),
        _coverage,
        Coverage,
        lambda place, row: (
            place.world.alice_user,
            reverse("billing:insurance_card", args=[row.pk, "front"]),
        ),
    ),
    Endpoint(
        "check-in-insurance-card",
        lambda place: place.world.alice_user,
        lambda place: reverse("checkin:insurance_add", args=[place.appointment.pk]),
        _coverage,
        Coverage,
        lambda place, row: (place.world.alice_user, reverse("checkin:card", args=[row.pk, "front"])),
    ),
    Endpoint(
        "evisit-photo",
        lambda place: place.world.alice_user,
        lambda place: reverse("evisits:add_photo", args=[place.evisit.pk]),
        lambda place, upload: {"photo": upload},
        EVisitPhoto,
        lambda place, row: (place.world.alice_user, reverse("evisits:photo", args=[place.evisit.pk, row.pk])),
    ),
    Endpoint(
        "proxy-request-document",
        lambda place: place.parent,
        lambda place: reverse("proxies:request_access"),
        _proxy_request,
        ProxyDocument,
        lambda place, row: (place.world.clinician, reverse("proxies:staff_document", args=[row.pk])),
    ),
    Endpoint(
        "legal-representative-document",
        lambda place: place.world.clinician,
        lambda place: reverse("proxies:staff_legal_representative", args=[place.world.alice.pk]),
        lambda place, upload: {
            "username": "parent",
            "scopes": ["view"],
            "access_until": "",
            "document": upload,
        },
        ProxyDocument,
        lambda place, row: (place.world.clinician, reverse("proxies:staff_document", args=[row.pk])),
    ),
    Endpoint(
        "assistance-document",
        lambda place: place.world.alice_user,
        lambda place: reverse("billing:assistance"),
        _assistance,
        AssistanceApplication,
        lambda place, row: (
            _billing_clerk(place),
            reverse("staff_billing:assistance_document", args=[row.pk]),
        ),
    ),
)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def place(world: World, media: Path) -> Place:
    messaging_world(world)  # the billing office and its clerk, who reads assistance documents
    thread = start_thread(world, subject="A rash", body="It itches.")
    alice = decide(world.alice_user, world.alice)
    assert alice is not None
    condition = cold_and_flu(world)
    condition.asks_for_photos = True  # a rash, say: the kind of e-visit that takes photos
    condition.save(update_fields=["asks_for_photos"])
    evisit = evisits.do_start_evisit(Actor(user=world.alice_user), alice, condition, [])
    child = make_patient("10000009", "Mia", "Able", world.campus)
    child.birth_date = dt.date.today().replace(year=dt.date.today().year - 8)  # noqa: DTZ011
    child.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=child, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    parent = make_user("parent", first_name="Dana", last_name="Able")
    sw = scheduling_world(world)
    appointment = book(sw, make_slot(sw, local_moment(world.campus, 3, 10)))
    return Place(world, thread, evisit, child, parent, appointment)


def stored_files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def as_upload(crafted: Crafted) -> SimpleUploadedFile:
    return SimpleUploadedFile(crafted.name, crafted.content, content_type=crafted.content_type)


def signed_in(user: User) -> Client:
    # As if the password was just typed: some uploads (a legal representative's papers)
    # are sensitive actions that ask for a recent sign-in.
    client = Client()
    sign_in_recently(client, user)
    return client


def try_file(endpoint: Endpoint, place: Place, media: Path, crafted: Crafted) -> tuple[bool, list[str]]:
    """Upload one file and judge what happened: whether it was kept, and the problems found."""
    cache.clear()  # rate limits are per user, and every file counts
    problems: list[str] = []
    label = f"{endpoint.name} <- {crafted.key}"
    files_before = stored_files(media)
    with transaction.atomic():
        rows_before = set(endpoint.model._default_manager.values_list("pk", flat=True))
        response = signed_in(endpoint.poster(place)).post(
            endpoint.url(place), endpoint.data(place, as_upload(crafted))
        )
        new_rows = list(endpoint.model._default_manager.exclude(pk__in=rows_before))
        if response.status_code >= 500:
            problems.append(f"{label}: answered {response.status_code}")
        elif not new_rows:
            problems += judge_refusal(label, response.status_code, response.content, media, files_before)
        elif not crafted.acceptable:
            problems.append(f"{label}: a hostile file was kept")
        else:
            problems += judge_download(label, endpoint, place, new_rows[0], crafted)
        transaction.set_rollback(True)
    for left in stored_files(media) - files_before:
        left.unlink()
    return bool(new_rows), problems


def judge_refusal(label: str, status: int, content: bytes, media: Path, files_before: set[Path]) -> list[str]:
    problems = []
    shown = " ".join(found.group(0) for found in ERROR_TEXT.finditer(content.decode(errors="replace")))
    # Forms with errors answer 200 or 400 (Bad Request), re-shown with the reason.
    if status not in (200, 400) or not any(message in shown for message in REFUSALS):
        problems.append(f"{label}: refused without a clear message (status {status})")
    if stored_files(media) != files_before:
        problems.append(f"{label}: refused, but a file was written")
    return problems


def judge_download(label: str, endpoint: Endpoint, place: Place, row: Any, crafted: Crafted) -> list[str]:
    reader, url = endpoint.download(place, row)
    response = signed_in(reader).get(url)
    if response.status_code != 200:
        return [f"{label}: the kept file does not download ({response.status_code} at {url})"]
    body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    disposition = response.get("Content-Disposition", "")
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    problems = []
    if not disposition.startswith("attachment"):
        problems.append(f"{label}: served as {disposition or 'no Content-Disposition'}")
    if (
        any(character in disposition for character in ("/", "\\", "\x00", "\u202e", "\n"))
        or ".." in disposition
    ):
        problems.append(f"{label}: the download name is unsafe: {disposition!r}")
    if content_type not in SERVABLE_TYPES:
        problems.append(f"{label}: served as {content_type}")
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{label}: no X-Content-Type-Options: nosniff")
    if any(marker in body for marker in HOSTILE_BYTES):
        problems.append(f"{label}: the served file still carries script")
    return problems


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.name for endpoint in ENDPOINTS])
def test_every_crafted_file_is_refused_or_kept_safely(endpoint: Endpoint, place: Place, media: Path) -> None:
    # The control: the form data is right and the endpoint keeps a plain photo, so the
    # refusals below are about the files.
    plain = Crafted("plain-photo", "rash.png", png_upload().read(), "image/png", acceptable=True)
    kept, problems = try_file(endpoint, place, media, plain)
    assert kept and not problems, problems or f"{endpoint.name} did not keep a plain photo"
    refused = 0
    for crafted in corpus():
        kept, found = try_file(endpoint, place, media, crafted)
        refused += not kept
        problems += found
    assert not problems, "\n".join(problems)
    assert refused >= sum(not crafted.acceptable for crafted in corpus())
