"""Messaging in the browser, end to end: a patient writes to her care team with a photo, a
nurse answers from the staff inbox in a second browser, and the patient hears about it in
the bell and the demo mailbox (with no health details) before reading the reply; a refill
asked for from the medication list and approved from the inbox; a referral asked for and
found again by its status and specialty; stored script in a message shown as text on both
sides; and the notification preferences. Every page is checked with axe at desktop and
phone width."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone, translation
from PIL import Image
from playwright.sync_api import Browser, Dialog, FilePayload, Page, expect

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.browser_tests.conftest import (
    DESKTOP,
    TIMEOUT_MS,
    LogIn,
    Problems,
    _note_console,
    _problems,
    check_page,
)
from portal.lib import campus_time
from portal.messaging import actions_referrals
from portal.messaging.models import Attachment, Message, Referral, RefillRequest, Thread
from portal.messaging.tests.support import (
    MessagingWorld,
    access_for,
    messaging_world,
    staff_reply,
    start_thread,
)
from portal.notifications.models import MailboxEntry, Notification
from portal.organization.models import Department
from portal.patients.models import CommunicationPreference
from portal.records.tests.support import make_medication
from portal.test import World

pytestmark = pytest.mark.browser

EMERGENCY = "If this is an emergency, call 911. Messages are not read right away."
SCRIPTED_SUBJECT = "<img src=x onerror=alert(1)>"
SCRIPTED_BODY = "<script>alert(1)</script> and <img src=x onerror=alert(2)>"


@pytest.fixture
def clinic(world: World, settings: Any, tmp_path: Path) -> MessagingWorld:
    """The messaging clinic, with files kept in a temporary folder and emails in the demo mailbox."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_DEMO_MAILBOX = True
    settings.EMAIL_BACKEND = "portal.notifications.mailbox.MailboxEmailBackend"
    return messaging_world(world)


def page_of_its_own(browser: Browser, live_server: Any, **options: Any) -> Iterator[Page]:
    """A page in a browser context of its own (`options` for `new_context`), watched for
    console errors like the `page` fixture's, for a second person signed in at the same time."""
    options = {"viewport": DESKTOP, **options}
    context = browser.new_context(base_url=live_server.url, locale="en-US", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=AXE_SCRIPT)
    page = context.new_page()
    problems = Problems()
    page.on("console", lambda message: _note_console(page, problems, message))
    page.on("pageerror", lambda error: problems.console_errors.append(f"uncaught: {error.message}"))
    _problems[page] = problems
    yield page
    leftover = problems.take()
    context.close()
    if leftover:
        raise AssertionError("The browser logged errors after the last check:\n" + "\n".join(leftover))


@pytest.fixture
def second_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    yield from page_of_its_own(browser, live_server)


def sign_in(page: Page, user: User, live_server: Any) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 80)).save(out, "PNG")
    return out.getvalue()


def record_dialogs(page: Page) -> list[str]:
    """Every alert, confirm or prompt the page opens (dismissed at once)."""
    opened: list[str] = []

    def note(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note)
    return opened


def write_a_message(page: Page, subject: str, body: str) -> None:
    """From the message list, through both steps of writing, up to the filled-in form."""
    page.goto("/messages/")
    page.get_by_role("link", name="Write a message").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Write a message")
    page.get_by_label(re.compile("^Medical question")).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("region", name="Where your message goes")).to_be_visible()
    page.get_by_role("textbox", name="Subject").fill(subject)
    page.get_by_role("textbox", name="Your message").fill(body)


# 1. A message with a photo, answered from the inbox ---------------------------------------------


def test_a_patient_writes_with_a_photo_and_reads_the_nurses_answer(
    page: Page, second_page: Page, clinic: MessagingWorld, log_in: LogIn, live_server: Any
) -> None:
    world = clinic.world
    log_in(world.alice_user)
    page.goto("/messages/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    expect(page.get_by_text("You have no messages yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    check_page(page)

    page.get_by_role("link", name="Write a message").first.click()
    expect(page.get_by_text(EMERGENCY)).to_be_visible()
    medical = page.get_by_label(re.compile("^Medical question"))
    expect(medical).to_have_accessible_name(re.compile("Usually answered within 2 days"))
    check_page(page)
    medical.check()
    expect(page.get_by_label("Family Medicine, Rochester")).to_be_checked()  # her only care team
    page.get_by_role("button", name="Continue").click()

    # Before anything is sent: where it goes, how soon it is answered, and not for emergencies.
    route = page.get_by_role("region", name="Where your message goes")
    expect(route).to_contain_text("Medical question")
    expect(route).to_contain_text("Family Medicine, Rochester")
    expect(route).to_contain_text("Usually answered within 2 days.")
    expect(page.get_by_text(EMERGENCY)).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Send message").click()  # no text yet
    expect(page.get_by_role("alert")).to_contain_text("Write your message.")
    check_page(page)

    page.get_by_role("textbox", name="Subject").fill("Rash on my arm")
    page.get_by_role("textbox", name="Your message").fill(
        "A red rash appeared on my left arm yesterday. Photo attached."
    )
    page.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="rash.png", mimeType="image/png", buffer=png_bytes())]
    )
    page.get_by_role("button", name="Send message").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Rash on my arm")
    expect(page.get_by_role("status")).to_contain_text("Your message was sent to Family Medicine, Rochester.")
    expect(page.get_by_role("link", name="rash.png")).to_be_visible()
    expect(page.get_by_text("Not read yet")).to_be_visible()
    check_page(page)
    thread = Thread.objects.get(patient=world.alice)
    attachment = Attachment.objects.get(message__thread=thread)
    assert (thread.topic, thread.pool) == ("medical", world.care_team)
    assert attachment.content_type == "image/png" and attachment.original_name == "rash.png"

    page.get_by_role("link", name="All messages").click()
    row = page.get_by_role("listitem").filter(has=page.get_by_role("link", name="Rash on my arm"))
    expect(row).to_contain_text("Waiting for the care team")
    check_page(page)

    # The nurse finds it in her pool's queue and answers.
    sign_in(second_page, clinic.nurse, live_server)
    second_page.goto("/staff/inbox/")
    expect(second_page.get_by_role("heading", level=1)).to_have_text("Inbox: Family Medicine, Rochester")
    expect(second_page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    queue = second_page.get_by_role("table", name="Conversations in Family Medicine, Rochester")
    expect(queue.get_by_role("row").filter(has_text="Rash on my arm")).to_contain_text("Alice Able")
    check_page(second_page)
    queue.get_by_role("link", name="Rash on my arm").click()
    expect(second_page.get_by_role("heading", level=1)).to_have_text("Rash on my arm")
    expect(second_page.get_by_text("A red rash appeared on my left arm yesterday.")).to_be_visible()
    check_page(second_page)
    with second_page.expect_download() as downloading:
        second_page.get_by_role("link", name="rash.png").click()
    download = downloading.value
    assert download.suggested_filename == f"rash-{attachment.pk}.png"
    assert Path(download.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    second_page.get_by_role("textbox", name="Reply to the patient").fill(
        "Thank you for the photo. Please keep the area clean and dry; we have booked you a call."
    )
    second_page.get_by_role("button", name="Send reply").click()
    expect(second_page.get_by_role("status")).to_contain_text("Reply sent.")
    expect(second_page.get_by_text("not read yet")).to_be_visible()
    check_page(second_page)

    # The patient hears about it in the portal...
    page.reload()
    expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    expect(row).to_contain_text("New reply")
    expect(row).to_contain_text("Answered")
    check_page(page)

    page.goto("/")
    expect(page.get_by_text("1 unread message", exact=True)).to_be_visible()
    check_page(page)

    # ...and by an email that says only that there is something new.
    page.goto("/demo/mailbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo mailbox")
    email = page.get_by_role("article").filter(has_text="alice@example.org")
    expect(email).to_have_count(1)
    expect(email.get_by_role("heading")).to_contain_text("New message in your patient portal")
    expect(email).to_contain_text("You have a new message in the patient portal.")
    for private in ("rash", "Rash", "arm", "photo", "Nina", "Family Medicine", "Alice"):
        expect(email).not_to_contain_text(private)
    check_page(page)
    delivered = MailboxEntry.objects.get(to="alice@example.org")
    assert "rash" not in (delivered.subject + delivered.body).lower()

    # She follows the bell to the conversation and reads the answer.
    page.goto("/messages/")
    page.get_by_role("link", name="Notifications, 1 unread").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    check_page(page)
    page.get_by_role("button", name="New message from Family Medicine, Rochester").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rash on my arm")
    reply = page.get_by_role("article").filter(has_text="Thank you for the photo.")
    expect(reply).to_contain_text("Nina Staff, Family Medicine, Rochester")
    expect(page.get_by_text(re.compile("Read by the care team"))).to_be_visible()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    check_page(page)
    answer = Message.objects.get(thread=thread, from_staff=True)
    assert answer.read_at is not None
    assert not Notification.objects.filter(recipient=world.alice_user, read_at__isnull=True).exists()

    second_page.reload()
    expect(second_page.get_by_text("read by the patient")).to_be_visible()
    check_page(second_page)


# 2. A refill from the medication list ----------------------------------------------------------


def test_a_refill_asked_for_from_the_medication_list_is_approved_in_the_inbox(
    page: Page, second_page: Page, clinic: MessagingWorld, log_in: LogIn, live_server: Any
) -> None:
    world = clinic.world
    make_medication(world.alice, "Lisinopril", prescriber=world.clinician.practitioner)
    log_in(world.alice_user)
    page.goto("/record/medications/")
    check_page(page)
    page.get_by_role("link", name="Request a refill of Lisinopril").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Request a prescription refill")
    expect(page.get_by_label(re.compile("^Lisinopril 10 mg tablet"))).to_be_checked()
    expect(page.get_by_label("Another pharmacy (enter it below)")).to_be_checked()  # none saved yet
    check_page(page)
    page.get_by_label("Pharmacy name").fill("Corner Pharmacy")
    page.get_by_label("Pharmacy address").fill("12 Broadway, Rochester")
    page.get_by_label("Notes for your care team").fill("I have five tablets left.")
    page.get_by_role("button", name="Send refill request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Prescription refills")
    expect(page.get_by_role("status")).to_contain_text(
        "Your refill request was sent to Family Medicine, Rochester."
    )
    expect(page.get_by_role("listitem").filter(has_text="Lisinopril")).to_contain_text("Corner Pharmacy")
    check_page(page)
    refill = RefillRequest.objects.get(patient=world.alice)
    assert refill.pharmacy.name == "Corner Pharmacy"

    sign_in(second_page, world.clinician, live_server)
    second_page.goto("/staff/inbox/")
    second_page.get_by_role("link", name="Prescription refill request").click()
    panel = second_page.get_by_role("region", name="Refill request")
    expect(panel).to_contain_text("Corner Pharmacy")
    expect(panel).to_contain_text("I have five tablets left.")
    check_page(second_page)
    panel.get_by_label(re.compile("^Note for the patient")).fill("Sent to Corner Pharmacy for 90 days.")
    panel.get_by_role("button", name="Approve refill").click()
    expect(second_page.get_by_role("status")).to_contain_text(
        "The refill was approved and the patient was told."
    )
    expect(second_page.get_by_role("region", name="Refill request")).to_contain_text("Refill approved")
    check_page(second_page)

    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.APPROVED and refill.decided_at is not None
    # The day at the patient's campus, as the medication list shows it.
    assert refill.decided_at is not None
    with translation.override("en"):
        day = campus_time.date_label(refill.decided_at, world.campus)
    page.goto("/record/medications/")
    lisinopril = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile("^Lisinopril"))
    )
    expect(lisinopril).to_contain_text(f"Refill approved {day}")
    check_page(page)
    page.get_by_role("link", name="See your refill requests").click()
    expect(page.get_by_text("Sent to Corner Pharmacy for 90 days.")).to_be_visible()
    check_page(page)


# 3. A referral, found again by searching -------------------------------------------------------


def test_a_patient_asks_for_a_referral_and_finds_it_by_status_and_specialty(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    world = clinic.world
    dermatology = Department.objects.create(slug="dermatology", name="Dermatology")
    dermatology.campuses.add(world.campus)
    earlier = Referral.objects.create(
        patient=world.alice,
        requested_by=world.alice_user,
        specialty=dermatology,
        reason="A mole that changed",
        status=Referral.Status.APPROVED,
        created_at=timezone.now() - dt.timedelta(days=40),
        updated_at=timezone.now() - dt.timedelta(days=39),
    )
    log_in(world.alice_user)
    page.goto("/referrals/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Referrals")
    check_page(page)
    page.get_by_role("link", name="Request a referral").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request a referral")
    check_page(page)
    page.get_by_role("button", name="Send referral request").click()  # nothing filled in
    expect(page.get_by_role("alert")).to_contain_text("Tell your care team why you would like the referral.")
    check_page(page)

    page.get_by_label("Specialty").select_option(label="Cardiology")
    page.get_by_label("Reason for the referral").fill("Chest pain when I climb stairs")
    page.get_by_label("Preferred campus").select_option(label="Rochester, Minnesota")
    expect(page.get_by_label("Care team")).to_have_value(str(world.care_team.pk))
    page.get_by_role("button", name="Send referral request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Referral to Cardiology")
    expect(page.get_by_role("status")).to_contain_text("Your referral request was sent.")
    expect(page.get_by_text("Waiting for your care team to decide.")).to_be_visible()
    check_page(page)
    referral = Referral.objects.exclude(pk=earlier.pk).get()
    assert (referral.specialty, referral.preferred_campus) == (clinic.cardiology, world.campus)
    assert referral.thread is not None and referral.thread.pool == world.care_team

    page.get_by_role("link", name="All your referrals").click()
    results = page.get_by_role("region", name=re.compile("referrals$"))
    expect(results.get_by_role("heading", level=3)).to_have_count(2)
    search = page.get_by_role("form", name="Search referrals")
    search.get_by_label("Status").select_option(label="Requested")
    search.get_by_label("Specialty").select_option(label="Cardiology")
    search.get_by_role("button", name="Search").click()
    results = page.get_by_role("region", name="Matching referrals")
    expect(results.get_by_role("heading", level=3)).to_have_text(["Cardiology"])
    expect(results).to_contain_text("Rochester, Minnesota")
    check_page(page)

    search = page.get_by_role("form", name="Search referrals")
    search.get_by_label("Specialty").select_option(label="Dermatology")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No referrals match.")).to_be_visible()
    check_page(page)
    page.get_by_role("form", name="Search referrals").get_by_label("Status").select_option(label="Approved")
    page.get_by_role("form", name="Search referrals").get_by_role("button", name="Search").click()
    expect(
        page.get_by_role("region", name="Matching referrals").get_by_role("heading", level=3)
    ).to_have_text(["Dermatology"])
    check_page(page)


# 4. Stored script is shown as text ---------------------------------------------------------


def test_script_in_a_message_is_shown_as_text_to_the_patient_and_to_staff(
    page: Page, second_page: Page, clinic: MessagingWorld, log_in: LogIn, live_server: Any
) -> None:
    world = clinic.world
    dialogs = record_dialogs(page)
    staff_dialogs = record_dialogs(second_page)
    log_in(world.alice_user)
    write_a_message(page, SCRIPTED_SUBJECT, SCRIPTED_BODY)
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SCRIPTED_SUBJECT)
    expect(page.get_by_text(SCRIPTED_BODY)).to_be_visible()
    check_page(page)  # an <img src=x> would fail to load and show in the console
    thread = Thread.objects.get(patient=world.alice)
    assert thread.subject == SCRIPTED_SUBJECT

    sign_in(second_page, clinic.nurse, live_server)
    second_page.goto("/staff/inbox/")
    expect(second_page.get_by_role("link", name=SCRIPTED_SUBJECT)).to_be_visible()
    check_page(second_page)
    second_page.get_by_role("link", name=SCRIPTED_SUBJECT).click()
    expect(second_page.get_by_role("heading", level=1)).to_have_text(SCRIPTED_SUBJECT)
    expect(second_page.get_by_text(SCRIPTED_BODY)).to_be_visible()
    check_page(second_page)
    second_page.get_by_role("textbox", name="Reply to the patient").fill("Answer: " + SCRIPTED_BODY)
    second_page.get_by_role("button", name="Send reply").click()
    expect(second_page.get_by_role("status")).to_contain_text("Reply sent.")
    expect(second_page.get_by_text("Answer: " + SCRIPTED_BODY)).to_be_visible()
    check_page(second_page)

    page.goto("/messages/")
    expect(page.get_by_role("link", name=SCRIPTED_SUBJECT)).to_be_visible()
    check_page(page)
    page.goto("/notifications/")
    check_page(page)
    page.goto(f"/messages/{thread.pk}/")
    expect(page.get_by_text("Answer: " + SCRIPTED_BODY)).to_be_visible()
    check_page(page)
    page.goto(f"/messages/?q={SCRIPTED_SUBJECT}")
    expect(page.get_by_role("link", name=SCRIPTED_SUBJECT)).to_be_visible()
    check_page(page)

    # The same in a referral's reason, shown on its own pages and in the inbox's panel.
    referral = actions_referrals.do_request_referral(
        Actor.system(),
        access_for(world.alice_user, world),
        specialty=clinic.cardiology,
        reason=SCRIPTED_BODY,
        care_team=world.care_team,
    )
    page.goto(f"/referrals/{referral.pk}/")
    expect(page.get_by_role("definition").filter(has_text=SCRIPTED_BODY)).to_have_count(1)
    check_page(page)
    second_page.goto(f"/staff/referrals/{referral.pk}/")
    panel = second_page.get_by_role("region", name="Referral request")
    expect(panel.get_by_role("definition").filter(has_text=SCRIPTED_BODY)).to_have_count(1)
    check_page(second_page)

    for shown in (page, second_page):
        assert shown.locator("img[src='x'], main script").count() == 0
    assert dialogs == [] and staff_dialogs == []


# 5. Notification preferences -----------------------------------------------------------------


def test_a_patient_turns_off_message_emails_and_sets_quiet_hours(
    page: Page, clinic: MessagingWorld, log_in: LogIn
) -> None:
    world = clinic.world
    log_in(world.alice_user)
    page.goto("/profile/communication/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change how we contact you")
    messages_news = page.get_by_role("group", name="Messages from the care team")
    expect(messages_news.get_by_label("Email")).to_be_checked()
    check_page(page)

    messages_news.get_by_label("Email").uncheck()
    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_role("button", name="Save preferences").click()  # only one end of the quiet hours
    expect(page.get_by_role("alert")).to_contain_text("Give both times, or leave both empty")
    check_page(page)

    page.get_by_role("group", name="Messages from the care team").get_by_label("Email").uncheck()
    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_label("Quiet until").fill("07:00")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your contact preferences are updated.")
    check_page(page)

    preference = CommunicationPreference.objects.get(patient=world.alice)
    assert "messages" not in preference.email_kinds
    assert (preference.quiet_start, preference.quiet_end) == (dt.time(22), dt.time(7))
    page.goto("/profile/communication/")
    expect(
        page.get_by_role("group", name="Messages from the care team").get_by_label("Email")
    ).not_to_be_checked()
    expect(page.get_by_role("group", name="Appointments and reminders").get_by_label("Email")).to_be_checked()
    expect(page.get_by_label("Quiet from")).to_have_value("22:00")
    expect(page.get_by_label("Quiet until")).to_have_value("07:00")
    check_page(page)

    # A reply now shows in the portal but sends no email.
    staff_reply(start_thread(world), clinic.nurse)
    page.goto("/messages/")
    expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    assert not MailboxEntry.objects.exists()
