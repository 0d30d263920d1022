"""Stored cross-site scripting: hostile text in everything a patient writes, read back in a
real browser by the patient and by the staff who work on it.

The rows come from the app's own actions (the same builders the every-page tests use:
messages with an attachment, refills, referrals, bills, disputes, insurance, assistance,
e-visits, correction requests, proxy invitations, pre-check-in); then every free-text
field a patient (or someone registering or asking for access) can fill in is set to the
payloads that fit it. Each persona then walks the pages reachable from their start page,
one page per URL pattern, and every page must: answer below 500, open no dialog, make the
browser report no CSP violation (to the server's /csp-report/ and in the console), and
hold none of the payloads as live markup: no injected elements, no event-handler
attributes, no `javascript:` links.

A control at the end injects a violation on purpose and waits for its report, which both
proves the reporting path works and flushes any earlier report still in flight.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import models
from django.urls import Resolver404, resolve
from playwright.sync_api import ConsoleMessage, Dialog, Page
from playwright.sync_api import Error as PlaywrightError
from prometheus_client import REGISTRY

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing.tests.support import BillingWorld, make_billing_proxy
from portal.browser_tests import test_billing_every_page as billing_pages
from portal.browser_tests import test_messaging_every_page as messaging_pages
from portal.browser_tests.conftest import LogIn, Problems
from portal.messaging.models import Attachment, Message, Pharmacy, Referral, RefillRequest, Thread
from portal.messaging.tests.support import messaging_world
from portal.patients.access import decide
from portal.patients.models import Coverage, Patient, ProxyGrant, Scope
from portal.proxies import actions as proxy_actions
from portal.proxies.models import ProxyDocument, ProxyInvitation, ProxyRequest
from portal.records import actions as record_actions
from portal.records.models import AmendmentRequest, Medication, ShareLink
from portal.registration.models import AccessRequest
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ConsentSignature,
    PreCheckIn,
    QuestionnaireAnswers,
)
from portal.scheduling.tests.support import book, local_moment, make_slot
from portal.telehealth import evisits
from portal.telehealth.models import ChatLine, EVisit, EVisitPhoto, Participant
from portal.telehealth.tests.support import cold_and_flu
from portal.test import World

pytestmark = pytest.mark.browser

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "</textarea><script>alert(1)</script>",
    "{{constructor.constructor('alert(1)')()}}",
)

# Everything a patient, a proxy or someone asking for access types in, by model. Names
# and contact details are written at registration and in the profile; the rest through
# the forms of each feature. Attachment and photo names are the sender's file names.
PATIENT_WRITTEN: dict[type[models.Model], tuple[str, ...]] = {
    User: ("first_name", "last_name"),
    Patient: (
        "given_name",
        "family_name",
        "preferred_name",
        "gender_identity",
        "pronouns",
        "mobile_phone",
        "home_phone",
        "address_line",
        "city",
        "region",
        "postal_code",
    ),
    Coverage: ("payer_name", "plan_name", "member_id", "group_number", "subscriber_name"),
    Thread: ("subject",),
    Message: ("body",),
    Attachment: ("original_name",),
    Pharmacy: ("name", "address"),
    RefillRequest: ("notes",),
    Referral: ("reason",),
    AppointmentRequest: ("reason", "availability_notes", "referred_by", "referral_details"),
    Appointment: ("reason",),
    PreCheckIn: ("medication_changes", "allergy_changes"),
    QuestionnaireAnswers: ("items",),
    ConsentSignature: ("signed_name",),
    EVisit: ("answers",),
    EVisitPhoto: ("name",),
    ChatLine: ("body",),
    Participant: ("display_name",),
    AmendmentRequest: ("item_label", "description", "proposed_change"),
    ShareLink: ("recipient",),
    ProxyInvitation: ("name",),
    ProxyDocument: ("original_name",),
    ProxyRequest: ("given_name", "family_name"),
    AccessRequest: ("given_name", "family_name", "address_line", "city", "region", "message"),
}

# Live markup any payload would leave behind if it got through unescaped.
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('img[src="x"], svg[onload], script:not([src])')) {
    found.push(el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      if (name.startsWith('on') || (['href', 'src', 'action', 'formaction'].includes(name) && value.startsWith('javascript:'))) {
        found.push(el.tagName.toLowerCase() + '[' + name + '=' + attr.value.slice(0, 40) + ']');
      }
    }
  }
  return found;
}"""
SHOWN = "() => document.body.innerText.includes('<script>alert(1)</script>')"
# Not pages (downloads, sign-out, language switching, the video call, which needs a
# camera), and pages that show nothing a patient wrote (record sections from the EHR,
# account security, schedules, blank forms): the walk's budget goes to the rest.
SKIP = re.compile(
    r"logout|download|/files?/|attachment|photo|card|\.ics|\.pdf|/i18n/|/video/|"
    r"^/(accounts|apps|developers|notifications|record-access)/|"
    r"^/record/(results|imaging|visits|notes|medications|allergies|problems|immunizations|procedures|documents|preferences)/|"
    r"/new/|/schedules/|/registration/codes|hold-rules|break-glass|/held/|^/staff/notifications/|"
    r"^/billing/(pay|how-to-pay|estimates|accounts|transactions)/|/refund/|/guarantor/|/charges/|/adjustments/|"
    r"^/profile/(email|language|communication|deactivate)/"
)


def payloads_that_fit(limit: int | None) -> list[str]:
    """The payloads that fit a field, all of them when the field is long enough."""
    room = limit or 10_000
    chosen: list[str] = []
    for payload in PAYLOADS:
        if len(" ".join([*chosen, payload])) <= room:
            chosen.append(payload)
    return chosen


def poison(value: Any, text: str) -> Any:
    """A JSON answer with every string in it replaced by the payloads."""
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [poison(item, text) for item in value]
    if isinstance(value, dict):
        return {
            key: (item if key in ("linkId", "type") else poison(item, text)) for key, item in value.items()
        }
    return value


def plant_payloads() -> tuple[int, list[str]]:
    """Set every patient-written field of every row to the payloads: the count of field and
    payload pairs planted, and the models that had no rows to plant in."""
    planted = 0
    empty = []
    staff = User.objects.filter(practitioner__isnull=False)
    for model, names in PATIENT_WRITTEN.items():
        rows = model._default_manager.exclude(pk__in=staff) if model is User else model._default_manager.all()
        if not rows.exists():
            empty.append(model.__name__)
            continue
        for name in names:
            model_field = model._meta.get_field(name)
            chosen = payloads_that_fit(getattr(model_field, "max_length", None))
            assert chosen, f"{model.__name__}.{name} is too short for any payload"
            text = " ".join(chosen)
            if isinstance(model_field, models.JSONField):
                for row in rows:
                    model._default_manager.filter(pk=row.pk).update(
                        **{name: poison(getattr(row, name), text)}
                    )
            else:
                rows.update(**{name: text})
            planted += len(chosen)
    return planted, empty


def build(world: World) -> None:
    """Rows of every kind a patient writes, made by the app's actions."""
    clinic = messaging_world(world)
    messaging_pages.build(clinic)
    payer, grant = make_billing_proxy(world)
    bills = billing_pages.build(
        BillingWorld(world, clinic.billing_office, clinic.billing_clerk, payer, grant)
    )
    alice = decide(world.alice_user, world.alice)
    assert alice is not None
    actor = Actor(user=world.alice_user)
    condition = cold_and_flu(world)
    answers = [{"linkId": "notes", "text": "Anything else?", "answer": [{"valueString": "Sore"}]}]
    evisit = evisits.do_start_evisit(actor, alice, condition, answers)
    evisits.do_submit_evisit(actor, alice, evisit)
    medication = Medication.objects.filter(patient=world.alice).first()
    assert medication is not None
    record_actions.do_request_amendment(actor, alice, medication, "The dose is wrong.", "5 mg")
    proxy_actions.do_invite_proxy(
        actor,
        alice,
        name="Sam Able",
        email="sam.able@example.org",
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        access_expires_at=None,
    )
    # A visit in three days, booked with a reason and part-way through pre-check-in.
    upcoming = book(bills.sw, make_slot(bills.sw, local_moment(world.campus, 3, 10)))
    PreCheckIn.objects.create(appointment=upcoming, medication_changes="None", allergy_changes="None")
    # Someone without an account asks for access (the public form's row, for the staff queue).
    AccessRequest.objects.create(
        kind=AccessRequest.Kind.US,
        given_name="Zoe",
        family_name="Zed",
        birth_date=dt.date(1990, 1, 2),
        email="zoe@example.org",
        phone="507-555-0199",
        address_line="1 Main St",
        city="Rochester",
        campus=world.campus,
        message="Please help.",
    )


@dataclass
class Walk:
    """What one persona's walk saw."""

    visited: list[str] = field(default_factory=list)
    showing: int = 0  # pages showing a payload as text
    failures: list[str] = field(default_factory=list)


@dataclass
class Watcher:
    """Dialogs and CSP complaints, wherever in the walk they happen."""

    dialogs: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message} on {dialog.page.url if dialog.page else '?'}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_console.append(message.text[:200])


def csp_reports() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "portal_csp_reports":
            total += sum(sample.value for sample in metric.samples if sample.name.endswith("_total"))
    return total


def route(path: str) -> str:
    try:
        return str(resolve(urlsplit(path).path).route)
    except Resolver404:
        return ""


def same_site_links(page: Page) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href]", "(links) => links.map((a) => a.getAttribute('href'))"
    )
    return [
        href for href in hrefs if href.startswith("/") and not href.startswith("//") and not SKIP.search(href)
    ]


def walk(page: Page, start: list[str], budget: int) -> Walk:
    """Open pages breadth-first from `start`, one per URL pattern, checking each."""
    seen_routes: set[str] = set()
    queue = list(start)
    result = Walk()
    while queue and len(result.visited) < budget:
        path = queue.pop(0).split("#", 1)[0]
        pattern = route(path)
        if (not pattern and path not in start) or pattern in seen_routes:
            continue
        seen_routes.add(pattern)
        try:
            response = page.goto(path)
        except PlaywrightError:
            continue  # a download, not a page
        result.visited.append(path)
        status = response.status if response else 0
        if status >= 500:
            result.failures.append(f"{path} answered {status}")
            continue
        injected = page.evaluate(INJECTED)
        if injected:
            result.failures.append(f"{path} holds live markup: {injected[:5]}")
        result.showing += bool(page.evaluate(SHOWN))
        queue.extend(same_site_links(page))
    return result


def test_payloads_in_every_patient_written_field_stay_text(
    page: Page, problems: Problems, world: World, log_in: LogIn, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    build(world)
    planted, empty = plant_payloads()
    watcher = Watcher()
    watcher.attach(page)
    reports_before = csp_reports()
    alice_id = world.alice.pk
    desk_request = AppointmentRequest.objects.filter(patient=world.alice).values_list("pk", flat=True).first()
    checked_in = PreCheckIn.objects.values_list("appointment_id", flat=True).first()
    assert desk_request is not None and checked_in is not None
    walks: dict[str, Walk] = {}
    # Each persona's start pages are the lists where patients' writing lands; the walk
    # follows their links to the detail pages (one page per URL pattern).
    personas: dict[str, tuple[User, list[str], int]] = {
        "patient": (
            world.alice_user,
            [
                "/",
                "/profile/",
                "/profile/contact/",
                "/messages/",
                "/messages/refills/",
                "/referrals/",
                "/appointments/",
                f"/appointments/check-in/{checked_in}/medications/",
                "/e-visits/",
                "/record/corrections/",
                "/record/sharing/",
                "/proxies/",
                "/billing/",
                "/billing/insurance/",
                "/billing/disputes/",
                "/billing/assistance/",
            ],
            32,
        ),
        "proxy": (world.proxy_user, ["/", "/messages/", "/record/corrections/"], 10),
        "clinician": (
            world.clinician,
            [
                "/staff/",
                f"/staff/patients/{alice_id}/",
                "/staff/inbox/",
                "/staff/refills/",
                "/staff/referrals/",
                "/staff/e-visits/",
                "/staff/records/amendments/",
                "/proxies/staff/requests/",
                "/staff/registration/",
            ],
            24,
        ),
        "scheduler": (
            world.scheduler,
            [
                "/staff/",
                "/staff/desk/",
                f"/staff/desk/requests/{desk_request}/",
                f"/appointments/check-in/{checked_in}/staff/",
            ],
            10,
        ),
        "billing": (
            User.objects.get(username="bill"),
            ["/staff/", "/staff/billing/", "/staff/billing/disputes/", "/staff/billing/assistance/"],
            16,
        ),
    }
    for name, (user, start, budget) in personas.items():
        page.context.clear_cookies()
        log_in(user)
        walks[name] = walk(page, start, budget)

    # The control: a violation on purpose, whose report must reach the server.
    page.evaluate(
        "() => { const img = document.createElement('img'); img.src = 'https://blocked.invalid/x.png'; document.body.append(img); }"
    )
    for _ in range(100):
        if csp_reports() > reports_before:
            break
        page.wait_for_timeout(50)
    reports = csp_reports() - reports_before
    control = [line for line in watcher.csp_console if "blocked.invalid" in line]
    # The fixture's own console check would fail on the control; the CSP lines are judged here.
    problems.take()

    failures = [
        failure for name, result in walks.items() for failure in (f"{name}: {f}" for f in result.failures)
    ]
    pages = sum(len(result.visited) for result in walks.values())
    for name, result in walks.items():
        print(name, " ".join(result.visited))
    print(
        f"\nstored XSS: {planted} field x payload plantings, {pages} pages viewed (no rows of {', '.join(empty) or 'none'}), "
        + ", ".join(f"{name} {len(r.visited)} ({r.showing} showing payloads)" for name, r in walks.items())
    )
    assert not watcher.dialogs, watcher.dialogs
    assert not failures, "\n".join(failures)
    assert control, "the control violation was not logged: CSP is not enforced"
    assert reports == 1, (
        f"the server received {reports - 1:g} CSP report(s) besides the control: {watcher.csp_console}"
    )
    assert [line for line in watcher.csp_console if "blocked.invalid" not in line] == []
    for name in ("patient", "clinician", "scheduler", "billing"):
        assert walks[name].showing, f"no page {name} saw showed a payload: the walk missed the rows"
