"""Stored cross-site scripting: hostile text in everything a patient writes, read back in a
real browser by the patient and by the staff who work on it.

The rows come from the app's own actions (the same builders the every-page tests use:
messages with an attachment, refills, referrals, bills, disputes, insurance, assistance,
e-visits with a photo, correction requests, proxy invitations, a parent's proxy request
with its document, pre-check-in with questionnaire answers and a signed consent, a video
visit in progress with the patient's and a proxy's chat lines, a share link opened once);
then every free-text field a patient (or a proxy, someone registering or asking for
access, or the browser opening a share link) can fill in is set to the payloads that fit
it. The test fails at once if any model in `PATIENT_WRITTEN` has no row to plant in.

Each persona then walks every page reachable from their start pages, one page per URL
pattern (a persona's page budget only stops a runaway walk: the test fails if a pattern
is still waiting when it runs out); pages no link leads to (a questionnaire, a consent,
the video call, a share link's log, the staff's pre-check-in review, video visit and proxy
request) are start pages themselves, and the share link's holder opens it signed in as nobody.
Every page must: answer below 500, open no dialog, make the browser report no CSP
violation (to the server's /csp-report/ and in the console), and hold none of the
payloads as live markup: no injected elements, no event-handler attributes, no
`javascript:` links. The video call draws its chat by script from its first poll: the
walk waits for it (WebRTC is switched off, so the page only polls).

A control at the end injects a violation on purpose and waits for its report, which both
proves the reporting path works and flushes any earlier report still in flight.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.urls import Resolver404, resolve
from django.utils import timezone
from PIL import Image
from playwright.sync_api import ConsoleMessage, Dialog, Page
from playwright.sync_api import Error as PlaywrightError
from prometheus_client import REGISTRY

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing.models import AssistanceApplication, Dispute
from portal.billing.tests.support import BillingWorld, make_billing_proxy
from portal.browser_tests import test_billing_every_page as billing_pages
from portal.browser_tests import test_messaging_every_page as messaging_pages
from portal.browser_tests.conftest import LogIn, Problems
from portal.lib.uploads import check_image
from portal.messaging.models import Attachment, Message, Pharmacy, Referral, RefillRequest, Thread
from portal.messaging.tests.support import messaging_world
from portal.patients.access import PatientAccess, decide, visit_access
from portal.patients.models import CareRelationship, Coverage, Patient, ProxyGrant, Scope
from portal.proxies import actions as proxy_actions
from portal.proxies.models import ProxyDocument, ProxyInvitation, ProxyRequest
from portal.proxies.uploads import check_document
from portal.records import actions as record_actions
from portal.records.export import Selection
from portal.records.models import AmendmentRequest, Medication, ShareLink, ShareLinkOpen
from portal.records.sharing import do_create_share_link, do_record_share_open
from portal.registration.models import AccessRequest
from portal.scheduling import actions_checkin as checkin_actions
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ConsentForm,
    ConsentSignature,
    PreCheckIn,
    Questionnaire,
    QuestionnaireAnswers,
)
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot
from portal.telehealth import evisits, video
from portal.telehealth.models import ChatLine, EVisit, EVisitPhoto, Participant
from portal.telehealth.signaling import do_send_chat
from portal.telehealth.tests.support import cold_and_flu, video_appointment
from portal.test import World, make_patient

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
# the forms of each feature. Attachment, photo and document names are the sender's file
# names; a video seat's name is its user's; a share link's log keeps the user agent of
# whoever opened it. (A proxy request's clinic number, 12 characters, fits no payload.)
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
    Dispute: ("reason",),
    AssistanceApplication: ("reason",),
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
    ShareLinkOpen: ("user_agent",),
    ProxyInvitation: ("name",),
    ProxyDocument: ("original_name",),
    ProxyRequest: ("given_name", "family_name"),
    AccessRequest: ("given_name", "family_name", "address_line", "city", "region", "message"),
}

# Live markup any payload would leave behind if it got through unescaped (a page's own
# JSON data, from json_script, is not script).
INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('img[src="x"], svg[onload], script:not([src]):not([type="application/json"])')) {
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
# account security, schedules, blank forms): the walk leaves them out.
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


@dataclass
class Made:
    """The rows whose pages the walk cannot find by following links, or must open at once."""

    check_in: int  # the appointment part-way through pre-check-in
    questionnaire: int  # its questionnaire, answers saved but not sent
    consent: int  # its consent form, signed
    video: int  # the video visit in progress, with chat
    share_link: int
    share_token: str
    proxy_request: int


def build(world: World) -> Made:
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
    condition.asks_for_photos = True
    condition.save(update_fields=["asks_for_photos"])
    answers = [{"linkId": "notes", "text": "Anything else?", "answer": [{"valueString": "Sore"}]}]
    evisit = evisits.do_start_evisit(actor, alice, condition, answers)
    evisits.do_add_evisit_photo(actor, alice, evisit, check_image(png("throat.png"), 1_000_000))
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
    check_in, questionnaire, consent = pre_check_in(bills.sw, actor, alice)
    link, token = share_record(actor, alice)
    return Made(
        check_in=check_in.pk,
        questionnaire=questionnaire.pk,
        consent=consent.pk,
        video=video_call(bills.sw, world).pk,
        share_link=link.pk,
        share_token=token,
        proxy_request=ask_for_a_child(world).pk,
    )


def png(name: str) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 80, 80)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def pre_check_in(
    sw: SchedulingWorld, actor: Actor, alice: PatientAccess
) -> tuple[Appointment, Questionnaire, ConsentForm]:
    """A visit in three days part-way through pre-check-in: its lists reviewed, a
    questionnaire saved for later (so its form shows the answers back), a consent signed."""
    questionnaire = Questionnaire.objects.create(
        slug="before-the-visit",
        title="Before the visit",
        items=[
            {"linkId": "reason", "type": "string", "text": "Why are you coming in?"},
            {"linkId": "details", "type": "text", "text": "Anything else?"},
        ],
    )
    consent = ConsentForm.objects.create(slug="treatment", title="Consent to treatment", body="I agree.")
    sw.follow_up.questionnaires.add(questionnaire)
    sw.follow_up.consent_forms.add(consent)
    upcoming = book(sw, make_slot(sw, local_moment(sw.world.campus, 3, 10)))
    for which in ("medications", "allergies"):
        checkin_actions.do_review_list(actor, alice, upcoming, which, "None")
    answers = [
        {"linkId": "reason", "text": "Why are you coming in?", "answer": [{"valueString": "A cough"}]},
        {"linkId": "details", "text": "Anything else?", "answer": [{"valueString": "No"}]},
    ]
    checkin_actions.do_save_answers(actor, alice, upcoming, questionnaire, answers, submit=False)
    checkin_actions.do_sign_consent(actor, alice, upcoming, consent, "Alice Able")
    return upcoming, questionnaire, consent


def video_call(sw: SchedulingWorld, world: World) -> Appointment:
    """Alice's video visit now: she and her proxy Pat were admitted and wrote in the chat,
    then Carol sent Pat back to the waiting room (so both of Carol's lists name someone)."""
    appointment = video_appointment(sw, world.alice)
    seats = []
    for user in (world.alice_user, world.proxy_user):
        access = decide(user, world.alice)
        assert access is not None
        seats.append((user, access, video.do_enter_waiting_room(Actor(user=user), access, appointment)))
    host = visit_access(world.clinician, world.alice, booked_with=appointment.practitioner_id, invited=False)
    assert host is not None
    carol = Actor(user=world.clinician)
    video.do_admit(carol, host, video.do_staff_join(carol, host, appointment).visit)
    for user, access, seat in seats:
        do_send_chat(Actor(user=user), access, seat, "How long will it take?", session=seat.session)
    video.do_remove_participant(carol, host, seats[1][2])
    return appointment


def share_record(actor: Actor, alice: PatientAccess) -> tuple[ShareLink, str]:
    """A link to the medications, opened once by its recipient's browser (whose user agent
    the link's log shows the patient)."""
    link, token = do_create_share_link(
        actor,
        alice,
        recipient="Dr. Lee",
        selection=Selection.of(["medications"], None, None),
        expires_in_days=7,
    )
    recipient = Actor(user=None, client_ip="127.0.0.1", user_agent="Mozilla/5.0")
    do_record_share_open(recipient, link, ShareLinkOpen.Outcome.OPENED)
    return link, token


def ask_for_a_child(world: World) -> ProxyRequest:
    """Pat asks to act for Mia, a child in Carol's care team, with a photo of a document."""
    mia = make_patient("10000077", "Mia", "Able", world.campus)
    mia.birth_date = dt.date(timezone.localdate().year - 8, 1, 15)
    mia.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=mia, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    details = proxy_actions.ChildDetails(
        clinic_number=mia.clinic_number,
        given_name="Mia",
        family_name="Able",
        birth_date=mia.birth_date,
        relationship=ProxyGrant.Relationship.PARENT,
    )
    upload = check_document(png("birth-certificate.png"))
    return proxy_actions.do_request_proxy_access(Actor(user=world.proxy_user), details, upload)


@dataclass
class Walk:
    """What one persona's walk saw."""

    visited: list[str] = field(default_factory=list)
    showing: int = 0  # pages showing a payload as text
    failures: list[str] = field(default_factory=list)
    unseen: set[str] = field(default_factory=set)  # patterns still queued when the budget ran out


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
        in_call = wait_for_chat(page)
        if in_call is False:
            result.failures.append(f"{path}: the call's chat never showed")
        injected = page.evaluate(INJECTED)
        if injected:
            result.failures.append(f"{path} holds live markup: {injected[:5]}")
        result.showing += bool(page.evaluate(SHOWN))
        queue.extend(same_site_links(page))
        if in_call:
            # Stop the call's polling before the next page: the test server's threads
            # share one database connection.
            page.goto("about:blank")
    result.unseen = {pattern for pattern in map(route, queue) if pattern and pattern not in seen_routes}
    return result


def wait_for_chat(page: Page) -> bool | None:
    """On a video call page, wait for its script to draw the chat from the first poll: True
    once drawn, False if it never was, None on any other page."""
    if not page.locator("#video-chat-log").count():
        return None
    try:
        page.locator("#video-chat-log li").first.wait_for(timeout=10_000)
    except PlaywrightError:
        return False
    return True


@pytest.mark.long
def test_payloads_in_every_patient_written_field_stay_text(
    page: Page, problems: Problems, world: World, log_in: LogIn, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    made = build(world)
    planted, empty = plant_payloads()
    assert not empty, f"no rows to plant payloads in: {', '.join(empty)}"
    watcher = Watcher()
    watcher.attach(page)
    # Without WebRTC the call pages only poll and draw the chat: no media negotiation.
    page.add_init_script("delete window.RTCPeerConnection;")
    reports_before = csp_reports()
    alice_id = world.alice.pk
    desk_request = AppointmentRequest.objects.filter(patient=world.alice).values_list("pk", flat=True).first()
    checked_in = made.check_in
    assert desk_request is not None
    walks: dict[str, Walk] = {}
    # Each persona's start pages are the lists where patients' writing lands; the walk
    # follows their links to the detail pages (one page per URL pattern).
    personas: dict[str, tuple[User | None, list[str], int]] = {
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
                f"/appointments/check-in/{checked_in}/questionnaires/{made.questionnaire}/",
                f"/appointments/check-in/{checked_in}/consents/{made.consent}/",
                f"/video/{made.video}/",
                "/e-visits/",
                "/record/corrections/",
                "/record/sharing/",
                f"/record/sharing/{made.share_link}/",
                "/proxies/",
                "/billing/",
                "/billing/insurance/",
                "/billing/disputes/",
                "/billing/assistance/",
            ],
            75,
        ),
        "proxy": (world.proxy_user, ["/", "/messages/", "/record/corrections/", "/proxies/requests/"], 30),
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
                f"/proxies/staff/requests/{made.proxy_request}/",
                "/staff/registration/",
                f"/appointments/check-in/{checked_in}/staff/",
                "/staff/video/",
                f"/staff/video/{made.video}/",
            ],
            45,
        ),
        "scheduler": (
            world.scheduler,
            [
                "/staff/",
                "/staff/desk/",
                f"/staff/desk/requests/{desk_request}/",
                f"/appointments/check-in/{checked_in}/staff/",
            ],
            35,
        ),
        "billing": (
            User.objects.get(username="bill"),
            ["/staff/", "/staff/billing/", "/staff/billing/disputes/", "/staff/billing/assistance/"],
            40,
        ),
        # Whoever holds the share link, signed in as nobody.
        "recipient": (None, [f"/shared/{made.share_token}/"], 3),
    }
    walk_started = time.perf_counter()
    for name, (user, start, budget) in personas.items():
        page.context.clear_cookies()
        if user is not None:
            log_in(user)
        walks[name] = walk(page, start, budget)
    walked_s = time.perf_counter() - walk_started

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
    # A budget is a safeguard against a walk that never ends, not a place to stop looking.
    failures += [
        f"{name}: the budget of {personas[name][2]} pages ran out before {sorted(result.unseen)}"
        for name, result in walks.items()
        if result.unseen
    ]
    pages = sum(len(result.visited) for result in walks.values())
    for name, result in walks.items():
        print(name, " ".join(result.visited))
    print(
        f"\nstored XSS: {planted} field x payload plantings in {len(PATIENT_WRITTEN)} models, "
        f"{pages} pages viewed in {walked_s:.1f} s, "
        + ", ".join(f"{name} {len(r.visited)} ({r.showing} showing payloads)" for name, r in walks.items())
    )
    assert not watcher.dialogs, watcher.dialogs
    assert not failures, "\n".join(failures)
    assert control, "the control violation was not logged: CSP is not enforced"
    assert reports == 1, (
        f"the server received {reports - 1:g} CSP report(s) besides the control: {watcher.csp_console}"
    )
    assert [line for line in watcher.csp_console if "blocked.invalid" not in line] == []
    for name in ("patient", "clinician", "scheduler", "billing", "recipient"):
        assert walks[name].showing, f"no page {name} saw showed a payload: the walk missed the rows"
