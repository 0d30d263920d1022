"""Every GET page of messaging, refills, referrals and notifications, patient side and staff
side, in its main states and with real rows: axe-clean at desktop and 360-px phone width
(`check_page` runs both), no console or CSP errors, no sideways scrolling. Then the form
errors, the unsubscribe pages, and writing a message in a phone-sized browser.

Each test visits every page of one group and reports every page that fails, not only the
first. Skipped on purpose: attachment downloads (files, not pages; the flows download
one) and POST-only endpoints (archive, reply, note, assign, status, move, the refill and
referral decisions, preferred/removed pharmacies, opening a notification, read-all).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, FilePayload, Page, expect

from portal.audit.actor import Actor
from portal.browser_tests.conftest import PHONE, LogIn, check_page
from portal.browser_tests.test_messaging import page_of_its_own, png_bytes, sign_in
from portal.browser_tests.test_scheduling_every_page import visit_each
from portal.lib.uploads import CheckedFile, check_document_or_image
from portal.messaging import actions, actions_referrals, actions_refills, staff_actions
from portal.messaging.models import Pharmacy, Referral, RefillRequest, ReplyTemplate, Thread, Topic
from portal.messaging.tests.support import (
    MessagingWorld,
    access_for,
    make_pharmacy,
    messaging_world,
    staff_reply,
    start_thread,
)
from portal.notifications.models import OutboxMessage
from portal.notifications.tests.delivery_support import consent_to_texts
from portal.organization.models import Department
from portal.patients.access import PatientAccess, pool_access
from portal.patients.models import CommunicationPreference
from portal.records.models import Medication
from portal.records.tests.support import make_medication
from portal.test import World

pytestmark = pytest.mark.browser

SYSTEM = Actor.system()


@dataclass
class Rows:
    clinic: MessagingWorld
    photo: Thread  # a photo from Alice, an unread answer, an internal note
    by_proxy: Thread  # written by Pat for Alice
    closed: Thread
    archived: Thread
    overdue: Thread
    billing: Thread  # in the billing office's pool
    lisinopril: Medication  # may be refilled
    waiting: RefillRequest
    approved: RefillRequest
    denied: RefillRequest
    question: RefillRequest
    pharmacy: Pharmacy
    requested: Referral
    scheduled: Referral  # approved, with an appointment request at the desk
    refused: Referral
    template: ReplyTemplate


@pytest.fixture
def clinic(world: World, settings: Any, tmp_path: Path) -> MessagingWorld:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_DEMO_MAILBOX = True
    settings.EMAIL_BACKEND = "portal.notifications.mailbox.MailboxEmailBackend"
    return messaging_world(world)


def photo() -> CheckedFile:
    upload = SimpleUploadedFile("rash.png", png_bytes(), content_type="image/png")
    return check_document_or_image(upload, django_settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES)


def staff(user: Any, thread: Thread | None) -> PatientAccess:
    assert thread is not None
    access = pool_access(user, thread.patient, thread.pool)
    assert access is not None
    return access


def build(clinic: MessagingWorld) -> Rows:
    world = clinic.world
    alice = access_for(world.alice_user, world)
    nurse, clinician = clinic.nurse, world.clinician
    consent_to_texts(world.alice)  # so the demo mailbox holds texts as well as emails

    photo_thread = start_thread(
        world, subject="Rash on my arm", body="A red rash appeared yesterday.", files=(photo(),)
    )
    staff_reply(photo_thread, nurse, "Please keep it clean and dry.")
    staff_actions.do_add_staff_note(SYSTEM, staff(nurse, photo_thread), photo_thread, "Call her tomorrow.")
    by_proxy = start_thread(
        world, world.proxy_user, subject="Question from Pat", body="Is she due a flu shot?"
    )
    closed = start_thread(world, subject="Flu shot", body="Can I have the flu shot?")
    staff_reply(closed, clinician, "Yes, at any visit.", status=Thread.Status.CLOSED)
    archived = start_thread(world, subject="Old question", body="Never mind.")
    actions.do_archive_thread(SYSTEM, alice, archived)
    overdue = start_thread(world, subject="Dizzy spells", body="I feel dizzy when I stand up.")
    Thread.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - dt.timedelta(hours=3))
    billing = start_thread(
        world, topic=Topic.BILLING, subject="Bill question", body="Why was I charged twice?"
    )

    def medication(name: str, **fields: Any) -> Medication:
        return make_medication(world.alice, name, prescriber=clinician.practitioner, **fields)

    lisinopril = medication("Lisinopril")
    medication("Oxycodone", renewable_online=False, not_renewable_reason="A controlled substance.")
    pharmacy = make_pharmacy(world, preferred=True)
    make_pharmacy(world, "Corner Pharmacy", phone="507-555-0142")

    def refill(name: str) -> RefillRequest:
        return actions_refills.do_request_refill(
            SYSTEM, alice, medication_ids=[medication(name).pk], pharmacy=pharmacy, notes="Five tablets left."
        )

    waiting = refill("Atorvastatin")
    approved = refill("Metformin")
    actions_refills.do_approve_refill(SYSTEM, staff(clinician, approved.thread), approved, note="90 days.")
    denied = refill("Amlodipine")
    actions_refills.do_deny_refill(
        SYSTEM, staff(clinician, denied.thread), denied, reason="Needs a visit first."
    )
    question = refill("Simvastatin")
    actions_refills.do_ask_about_refill(
        SYSTEM, staff(nurse, question.thread), question, question="Do you still take it at night?"
    )

    dermatology = Department.objects.create(slug="dermatology", name="Dermatology")
    dermatology.campuses.add(world.campus)

    def referral(specialty: Department, reason: str) -> Referral:
        return actions_referrals.do_request_referral(
            SYSTEM,
            alice,
            specialty=specialty,
            reason=reason,
            care_team=world.care_team,
            preferred_campus=world.campus,
        )

    requested = referral(clinic.cardiology, "Chest pain when I climb stairs")
    scheduled = referral(dermatology, "A mole that changed")
    assert scheduled.thread is not None
    access = staff(clinician, scheduled.thread)
    actions_referrals.do_approve_referral(SYSTEM, access, scheduled, note="Please bring photos.")
    actions_referrals.do_request_referral_appointment(SYSTEM, access, scheduled)
    refused = referral(clinic.cardiology, "Palpitations")
    assert refused.thread is not None
    actions_referrals.do_deny_referral(SYSTEM, staff(clinician, refused.thread), refused, "Seen last month.")

    template = ReplyTemplate.objects.create(
        pool=world.care_team, name="Results normal", body="Hello {patient}, your results are normal. {staff}"
    )
    ReplyTemplate.objects.create(name="Call us", body="Please call {pool}.")
    return Rows(
        clinic=clinic,
        photo=photo_thread,
        by_proxy=by_proxy,
        closed=closed,
        archived=archived,
        overdue=overdue,
        billing=billing,
        lisinopril=lisinopril,
        waiting=waiting,
        approved=approved,
        denied=denied,
        question=question,
        pharmacy=pharmacy,
        requested=requested,
        scheduled=scheduled,
        refused=refused,
        template=template,
    )


def thread_url(thread: Thread) -> str:
    return reverse("messaging:thread", args=[thread.pk])


def inbox_url(thread: Thread | None) -> str:
    assert thread is not None
    return reverse("inbox:thread", args=[thread.pk])


# The patient's side ------------------------------------------------------------------------


def test_every_patient_messaging_page_is_accessible(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    rows = build(clinic)
    world = clinic.world
    step_two = {"step": "1", "care_team": world.care_team.pk}
    log_in(world.alice_user)
    visit_each(
        page,
        [
            reverse("home"),  # the messages card
            reverse("messaging:list"),
            reverse("messaging:list") + "?archived=on",
            reverse("messaging:list") + "?q=rash",
            reverse("messaging:list") + "?unread=on&topic=medical",
            reverse("messaging:list") + "?q=nothing-matches-this",
            reverse("messaging:new"),
            reverse("messaging:new") + "?" + urlencode({**step_two, "topic": "medical"}),
            reverse("messaging:new") + "?" + urlencode({**step_two, "topic": "appointment"}),
            reverse("messaging:new") + "?" + urlencode({**step_two, "topic": "billing"}),
            reverse("messaging:new") + "?" + urlencode({**step_two, "topic": "medical", "change": "1"}),
            thread_url(rows.photo),  # a photo, an unread answer
            thread_url(rows.by_proxy),
            thread_url(rows.closed),
            thread_url(rows.archived),
            thread_url(rows.billing),
            reverse("notifications:list"),
        ],
    )


def test_every_patient_refill_and_referral_page_is_accessible(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    rows = build(clinic)
    log_in(clinic.world.alice_user)
    visit_each(
        page,
        [
            reverse("records:medications"),  # requested, approved, denied and asked-about refills
            reverse("refills:list"),
            reverse("refills:new"),
            reverse("refills:new") + f"?medication={rows.lisinopril.pk}",
            reverse("refills:pharmacies"),
            thread_url(rows.question.thread),  # type: ignore[arg-type]
            reverse("referrals:list"),
            reverse("referrals:list") + f"?status=requested&specialty={clinic.cardiology.pk}",
            reverse("referrals:list") + "?status=completed",  # nothing matches
            reverse("referrals:new"),
            reverse("referrals:detail", args=[rows.requested.pk]),
            reverse("referrals:detail", args=[rows.scheduled.pk]),
            reverse("referrals:detail", args=[rows.refused.pk]),
            reverse("profile:communication"),
        ],
    )


def test_the_proxys_pages_are_accessible(page: Page, clinic: MessagingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    log_in(clinic.world.proxy_user)
    visit_each(
        page,
        [
            reverse("messaging:list"),
            thread_url(rows.by_proxy),
            thread_url(rows.photo),
            reverse("refills:list"),
            reverse("referrals:list"),
            reverse("referrals:detail", args=[rows.scheduled.pk]),
            reverse("notifications:list"),
        ],
    )


def test_empty_pages_of_a_patient_without_a_care_team_are_accessible(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    log_in(clinic.world.bob_user)
    visit_each(
        page,
        [
            reverse("messaging:list"),
            reverse("messaging:list") + "?archived=on",
            reverse("messaging:new"),  # no care team: appointments and bills only
            reverse("refills:list"),
            reverse("refills:new"),  # no medications
            reverse("refills:pharmacies"),
            reverse("referrals:list"),
            reverse("referrals:new"),  # no care team to ask
            reverse("notifications:list"),
            reverse("profile:communication"),
        ],
    )


# The staff side ----------------------------------------------------------------------------


def test_every_inbox_page_is_accessible(page: Page, clinic: MessagingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    world = clinic.world
    pool = world.care_team.pk
    log_in(clinic.nurse)
    visit_each(
        page,
        [
            reverse("staff:home"),  # the inbox summary
            reverse("inbox:queue"),
            reverse("inbox:queue") + f"?pool={pool}&status=all",
            reverse("inbox:queue") + f"?pool={pool}&overdue=on",
            reverse("inbox:queue") + f"?pool={pool}&assigned=nobody&topic=prescription&q=Able",
            reverse("inbox:queue") + f"?pool={pool}&q=nothing-matches-this",
            reverse("inbox:queue") + f"?pool={pool}&status=not-a-status",  # error, then the default
            reverse("inbox:mine"),
            inbox_url(rows.photo),  # a photo, an internal note, reply templates
            inbox_url(rows.photo) + f"?template={rows.template.pk}",
            inbox_url(rows.by_proxy),
            inbox_url(rows.closed),
            inbox_url(rows.overdue),
            inbox_url(rows.waiting.thread),  # refill panels in each state
            inbox_url(rows.approved.thread),
            inbox_url(rows.denied.thread),
            inbox_url(rows.question.thread),
            inbox_url(rows.requested.thread),  # referral panels in each state
            inbox_url(rows.scheduled.thread),
            inbox_url(rows.refused.thread),
            reverse("inbox:start", args=[world.alice.pk]),
            reverse("staff_notifications:list"),
        ],
    )


def test_every_staff_refill_and_referral_page_is_accessible(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    rows = build(clinic)
    log_in(clinic.world.clinician)
    visit_each(
        page,
        [
            reverse("staff_refills:list"),
            reverse("staff_refills:list") + "?status=all",
            reverse("staff_refills:detail", args=[rows.waiting.pk]),
            reverse("staff_refills:detail", args=[rows.approved.pk]),
            reverse("staff_refills:detail", args=[rows.question.pk]),
            reverse("staff_referrals:list"),
            reverse("staff_referrals:list") + "?status=open",
            reverse("staff_referrals:list") + "?q=Able&status=denied",
            reverse("staff_referrals:list") + "?requested_from=not-a-date",  # explained on the form
            reverse("staff_referrals:detail", args=[rows.requested.pk]),
            reverse("staff_referrals:detail", args=[rows.scheduled.pk]),
            reverse("staff_referrals:detail", args=[rows.refused.pk]),
            reverse("staff_notifications:list"),
        ],
    )


def test_other_pools_and_staff_in_no_pool_see_accessible_pages(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    rows = build(clinic)
    log_in(clinic.billing_clerk)
    visit_each(
        page,
        [
            reverse("inbox:queue"),
            inbox_url(rows.billing),
            reverse("inbox:mine"),  # nothing assigned
            reverse("staff_refills:list"),  # none in the billing office
            reverse("staff_referrals:list"),
            reverse("staff_notifications:list"),
        ],
    )
    page.context.clear_cookies()
    log_in(clinic.world.unassigned_staff)
    visit_each(page, [reverse("staff:home"), reverse("staff_notifications:list")])


# Pages without a sign-in -------------------------------------------------------------------


def test_the_demo_mailbox_and_unsubscribe_pages_are_accessible(
    page: Page, clinic: MessagingWorld, settings: Any, live_server: Any
) -> None:
    settings.SITE_ROOT = live_server.url  # so the links in the emails lead to this server
    build(clinic)
    visit_each(page, [reverse("mailbox:list")])
    email = page.get_by_role("article").filter(has_text="alice@example.org").first
    expect(email).to_contain_text("You have a new message in the patient portal.")
    expect(page.get_by_role("heading", name="Text message").first).to_be_visible()

    # The unsubscribe link in the email, as a patient would follow it.
    email.get_by_role("link", name=re.compile("notifications.unsubscribe")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Stop these emails"))
    check_page(page)
    link = page.url
    page.get_by_role("button", name="Stop these emails").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emails stopped")
    expect(page.get_by_role("status")).to_contain_text("“Messages from the care team”")
    check_page(page)
    assert "messages" not in CommunicationPreference.objects.get(patient=clinic.world.alice).email_kinds

    response = page.goto(re.sub(r"[^/]+/$", "a-link-that-was-never-sent-xyz/", link))
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    check_page(page)

    long_ago = timezone.now() - dt.timedelta(days=400)
    OutboxMessage.objects.update(created_at=long_ago, sent_at=long_ago)
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    check_page(page)


# Form errors -------------------------------------------------------------------------------


def test_messaging_form_errors_are_accessible(page: Page, clinic: MessagingWorld, log_in: LogIn) -> None:
    rows = build(clinic)
    world = clinic.world
    log_in(world.alice_user)
    page.goto(reverse("messaging:new") + f"?step=1&topic=medical&care_team={world.care_team.pk}")
    page.get_by_role("textbox", name="Subject").fill("x" * 10)
    page.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="notes.png", mimeType="image/png", buffer=b"this is not a picture")]
    )
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("alert")).to_contain_text("Write your message.")
    expect(page.get_by_role("alert")).to_contain_text("notes.png")
    expect(page.get_by_text("Please choose your files again.")).to_be_visible()
    check_page(page)

    page.goto(thread_url(rows.photo))
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Write your message.")
    check_page(page)

    page.goto(reverse("refills:new"))
    page.get_by_label(re.compile("^Lisinopril")).uncheck()
    page.get_by_role("button", name="Send refill request").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one medication to refill.")
    check_page(page)

    page.goto(reverse("refills:pharmacies"))
    page.get_by_role("button", name="Save pharmacy").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check_page(page)

    page.goto(reverse("referrals:list") + "?requested_from=2026-05-01&requested_to=2026-04-01")
    expect(page.get_by_role("alert")).to_contain_text("The end date must be on or after the start date.")
    check_page(page)

    page.context.clear_cookies()
    log_in(world.clinician)  # a prescriber, who may decide refills
    page.goto(inbox_url(rows.photo))
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert").first).to_contain_text("Write the message first.")
    check_page(page)
    page.goto(inbox_url(rows.photo))
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("Say why the conversation is moving.")
    check_page(page)
    page.goto(inbox_url(rows.waiting.thread))
    page.get_by_role("button", name="Decline refill").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Give the patient the reason the refill is declined."
    )
    check_page(page)
    page.goto(inbox_url(rows.requested.thread))
    page.get_by_role("button", name="Deny referral").click()
    expect(page.get_by_role("alert").first).to_contain_text("Say why the referral is not approved")
    check_page(page)
    page.goto(reverse("inbox:start", args=[world.alice.pk]))
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("alert").first).to_contain_text("Give the message a subject.")
    check_page(page)


# A phone-sized browser ---------------------------------------------------------------------


@pytest.fixture
def phone_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """A page in a 360-px-wide touch browser from the start, as on a small phone."""
    yield from page_of_its_own(browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True)


def test_a_patient_writes_and_reads_messages_on_a_phone(
    phone_page: Page, clinic: MessagingWorld, live_server: Any
) -> None:
    build(clinic)
    page = phone_page
    sign_in(page, clinic.world.alice_user, live_server)

    page.goto(reverse("messaging:list"))
    expect(page.get_by_role("link", name="Rash on my arm")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Rash on my arm").tap()
    expect(page.get_by_text("Please keep it clean and dry.")).to_be_visible()
    expect(page.get_by_role("link", name="rash.png")).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="All messages").tap()
    page.get_by_role("link", name="Write a message").first.tap()
    page.get_by_label(re.compile("^Question about a test result")).tap()
    page.get_by_role("button", name="Continue").tap()
    expect(page.get_by_role("region", name="Where your message goes")).to_contain_text(
        "Usually answered within 2 days."
    )
    check_page(page)
    page.get_by_role("textbox", name="Your message").fill("Is my cholesterol result normal?")
    page.get_by_role("button", name="Send message").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Question about a test result")
    check_page(page)
    assert Thread.objects.filter(patient=clinic.world.alice, topic=Topic.RESULT).count() == 1

    for path in (reverse("refills:new"), reverse("referrals:new"), reverse("profile:communication")):
        page.goto(path)
        check_page(page)
    page.goto(reverse("notifications:list"))
    check_page(page)
