"""E-visits in the browser, end to end: a red-flag answer stops the e-visit at the emergency
advice; a sent e-visit is claimed and answered by a clinician in the staff workspace (a
second browser context) and the answer, the prescription and the charge reach the patient;
"needs a visit instead" sends the patient to book, free; a proxy sees the list and another
patient gets the missing page; photos are added and removed on a condition that asks for
them. Every page goes through axe at desktop and phone width, and the database is checked
after each step.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.billing.models import ServiceLine
from portal.browser_tests.conftest import DESKTOP, TIMEOUT_MS, LogIn, check_page, sign_in, watch_console
from portal.notifications.models import Notification
from portal.scheduling.models import Questionnaire
from portal.telehealth import evisits
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto
from portal.telehealth.tests.support import TelehealthWorld, patient_access, telehealth_world
from portal.test import World

pytestmark = pytest.mark.browser

Status = EVisit.Status
COLD = "Cold and flu symptoms"
# The questionnaire's answers as the page records them, for e-visits a test starts without the browser.
SENT_ANSWERS: list[dict[str, Any]] = [
    {"linkId": "days", "text": "How many days have you had symptoms?", "answer": [{"valueInteger": 4}]},
    {"linkId": "fever", "text": "Do you have a fever?", "answer": [{"valueBoolean": True}]},
    {"linkId": "breathing", "text": "Do you have trouble breathing?", "answer": [{"valueBoolean": False}]},
]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def tw(world: World, media: Path) -> TelehealthWorld:
    return telehealth_world(world)


@pytest.fixture
def staff_context(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    """A second browser context, for the clinician, beside the patient's `context`."""
    new_context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    new_context.set_default_timeout(TIMEOUT_MS)
    new_context.add_init_script(script=AXE_SCRIPT)
    yield new_context
    new_context.close()


def open_as(context: BrowserContext, user: User, live_server: Any) -> Page:
    sign_in(context, user, live_server.url)
    page = context.new_page()
    watch_console(page)
    return page


def sent_evisit(tw: TelehealthWorld) -> EVisit:
    """Alice's cold-and-flu e-visit, started and sent through the patient side's actions."""
    user = tw.world.alice_user
    access = patient_access(user, tw.world.alice)
    evisit = evisits.do_start_evisit(Actor(user=user), access, tw.condition, SENT_ANSWERS)
    assert evisits.do_submit_evisit(Actor(user=user), access, evisit)
    return evisit


def staff_notifications(user: User) -> int:
    return Notification.objects.filter(recipient=user, for_staff=True).count()


def choose(condition: str) -> re.Pattern[str]:
    # The condition's name is a visually hidden span after "Choose"; Chromium puts a space
    # before it in the accessible name ("Choose : Rash").
    return re.compile(rf"^Choose ?: {re.escape(condition)}$")


def start_cold_and_flu(page: Page) -> None:
    """From the messages page's link to the cold-and-flu questionnaire."""
    page.goto("/messages/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    check_page(page)
    page.get_by_role("main").get_by_role("link", name="Start an e-visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start an e-visit")
    expect(page.get_by_role("note")).to_contain_text("If this is an emergency, call 911.")
    check_page(page)
    page.get_by_role("link", name=choose(COLD)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"E-visit: {COLD}")
    check_page(page)


def answer_cold_and_flu(page: Page, *, trouble_breathing: bool) -> None:
    page.get_by_label("How many days have you had symptoms?").fill("3")
    page.get_by_role("group", name="Do you have a fever?").get_by_label("Yes").check()
    breathing = page.get_by_role("group", name="Do you have trouble breathing?")
    breathing.get_by_label("Yes" if trouble_breathing else "No").check()
    page.get_by_label("Anything else the clinician should know?").fill("Sore throat since the weekend.")
    page.get_by_role("button", name="Continue").click()


def open_review(staff: Page, evisit: EVisit) -> None:
    """The clinician goes from the staff workspace to the e-visit in the queue and opens it."""
    staff.goto("/staff/")
    expect(staff.get_by_role("heading", level=1)).to_have_text("Staff workspace")
    staff.get_by_role("navigation", name="Main").get_by_role("link", name="E-visits").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("E-visits")
    row = staff.get_by_role("row", name=re.compile("^Alice Able"))
    expect(row).to_contain_text(COLD)
    expect(row).to_contain_text("Waiting for a reviewer")
    check_page(staff)
    row.get_by_role("link", name="Alice Able").click()
    expect(staff).to_have_url(re.compile(rf"/staff/e-visits/{evisit.pk}/$"))
    expect(staff.get_by_role("heading", level=1)).to_contain_text("E-visit for Alice Able")
    check_page(staff)
    staff.get_by_role("button", name="Start reviewing").click()
    expect(staff.get_by_role("status")).to_contain_text("You are reviewing this e-visit.")
    check_page(staff)


def click_send_twice(page: Page, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Click "Send the e-visit" twice, the second time while the first click's answer is on its way.

    Chromium folds two clicks in the same instant into one form submission, so, as in the
    billing test's double click on "Pay", the first answer is held back a moment once the
    e-visit is sent and the second click lands on the page still showing: the browser drops
    the first request's answer and follows the second's, as for a person's slower double
    click on a busy server. Returns the paths the page POSTed to.
    """
    real_submit = evisits.do_submit_evisit
    submitted, answered = threading.Event(), threading.Event()

    def held_back(*args: Any, **kwargs: Any) -> bool:
        try:
            return real_submit(*args, **kwargs)
        finally:
            if not submitted.is_set():
                submitted.set()
                time.sleep(1)
                answered.set()

    monkeypatch.setattr(evisits, "do_submit_evisit", held_back)
    posts: list[str] = []
    page.on(
        "request",
        lambda request: posts.append(urlsplit(request.url).path) if request.method == "POST" else None,
    )
    button = page.get_by_role("button", name="Send the e-visit")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    assert submitted.wait(10), "the first click did not send the e-visit"
    with page.expect_response(lambda response: response.request.method == "POST") as second:
        page.mouse.click(x, y)  # the mouse, unlike a locator, does not wait for the page to change
    assert answered.wait(10)
    assert second.value.status == 302  # the second click is answered too, with the e-visit's page
    expect(button).to_have_count(0)
    return posts


# A red flag --------------------------------------------------------------------------------


def test_a_red_flag_answer_stops_the_evisit(page: Page, tw: TelehealthWorld, log_in: LogIn) -> None:
    world = tw.world
    log_in(world.alice_user)
    start_cold_and_flu(page)
    answer_cold_and_flu(page, trouble_breathing=True)

    evisit = EVisit.objects.get(patient=world.alice)
    expect(page).to_have_url(re.compile(rf"/e-visits/{evisit.pk}/$"))
    stop = page.get_by_role("alert")
    expect(stop.get_by_role("heading", level=1)).to_have_text("Call 911 now")
    expect(stop).to_contain_text("Call the emergency number, 911, now.")
    expect(stop).to_contain_text("Trouble breathing needs care now.")
    expect(
        page.get_by_text("This e-visit was not sent to a clinician and nothing is charged.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Send the e-visit")).to_have_count(0)
    check_page(page)

    assert (evisit.status, evisit.red_flag_advice, evisit.submitted_at) == (Status.STOPPED, "emergency", None)
    assert AuditEvent.objects.filter(action="telehealth.evisit_stopped").count() == 1
    assert staff_notifications(world.clinician) == 0
    assert not ServiceLine.objects.exists()


# A reply reaches the patient -------------------------------------------------------------


def test_a_sent_evisit_is_answered_and_the_answer_reaches_the_patient(
    page: Page,
    staff_context: BrowserContext,
    tw: TelehealthWorld,
    log_in: LogIn,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = tw.world
    log_in(world.alice_user)
    start_cold_and_flu(page)
    answer_cold_and_flu(page, trouble_breathing=False)

    # The review step: the answers and the price, nothing sent yet.
    evisit = EVisit.objects.get(patient=world.alice)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"E-visit: {COLD}")
    expect(page.get_by_role("region", name="Check your answers")).to_contain_text(
        "Sore throat since the weekend."
    )
    price = page.get_by_role("region", name="Price")
    expect(price).to_contain_text(f"An e-visit for {COLD} costs $35.00.")
    price_shown = re.search(r"\$\d+\.\d\d", price.inner_text())
    assert price_shown is not None
    check_page(page)
    assert EVisit.objects.get(pk=evisit.pk).status == Status.DRAFT
    assert staff_notifications(world.clinician) == 0

    sent = click_send_twice(page, monkeypatch)
    assert sent == [f"/e-visits/{evisit.pk}/submit/"] * 2
    expect(page.get_by_role("status").filter(has_text="It is waiting for a clinician")).to_be_visible()
    check_page(page)
    assert list(EVisit.objects.filter(patient=world.alice).values_list("status", flat=True)) == [
        Status.SUBMITTED
    ]
    assert AuditEvent.objects.filter(action="telehealth.evisit_submit").count() == 1
    assert staff_notifications(world.clinician) == 1

    # Carol, in her own browser context, answers it.
    staff = open_as(staff_context, world.clinician, live_server)
    open_review(staff, evisit)
    reply = staff.get_by_role("region", name="Reply")
    reply.get_by_role("button", name="Send the reply").click()
    summary = staff.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("^Assessment: "))).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("^Plan: "))).to_be_visible()
    expect(staff.get_by_label("Assessment")).to_have_attribute("aria-invalid", "true")
    check_page(staff)
    evisit.refresh_from_db()
    assert evisit.status == Status.IN_REVIEW

    reply = staff.get_by_role("region", name="Reply")
    reply.get_by_label("Assessment").fill("A viral upper respiratory infection.")
    reply.get_by_label("Plan").fill("Rest, fluids, and paracetamol for the fever.")
    reply.get_by_label("Medication to prescribe").fill("Paracetamol")
    reply.get_by_label("Dose").fill("500 mg")
    reply.get_by_label("How to take it").fill("One tablet every 6 hours as needed")
    reply.get_by_role("button", name="Send the reply").click()
    expect(staff.get_by_role("status")).to_contain_text("Your reply was sent to the patient")
    expect(staff.get_by_role("region", name="Reply sent")).to_contain_text("Paracetamol 500 mg")
    check_page(staff)
    evisit.refresh_from_db()
    assert evisit.status == Status.COMPLETED
    assert evisit.medication is not None
    assert (evisit.medication.name, evisit.medication.dose) == ("Paracetamol", "500 mg")
    assert Notification.objects.filter(recipient=world.alice_user, for_staff=False).count() == 1
    line = ServiceLine.objects.get(account__patient=world.alice)
    assert line.charge_cents == evisit.price_cents == 35_00

    # Alice sees the news on her home page and in her notifications, and reads the answer.
    page.goto("/")
    card = page.get_by_role("region", name="E-visits")
    expect(card).to_contain_text("New answer")
    expect(card.get_by_role("link", name=COLD)).to_be_visible()
    check_page(page)
    page.goto("/notifications/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    check_page(page)
    page.get_by_role("button", name="Your e-visit has a reply").click()
    expect(page).to_have_url(re.compile(rf"/e-visits/{evisit.pk}/$"))
    answer = page.get_by_role("region", name="The clinician's answer")
    expect(answer).to_contain_text("A viral upper respiratory infection.")
    expect(answer).to_contain_text("Rest, fluids, and paracetamol for the fever.")
    prescription = page.get_by_role("region", name="Prescription")
    expect(prescription).to_contain_text("Paracetamol")
    expect(prescription).to_contain_text("500 mg")
    expect(page.get_by_role("region", name="Charge")).to_contain_text(f"costs {price_shown.group()}")
    check_page(page)

    page.goto("/billing/transactions/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transactions")
    charge = page.get_by_role("row").filter(has_text="E-visit, 5-10 minutes")
    expect(charge).to_contain_text(price_shown.group())
    check_page(page)


# Needs a visit instead ---------------------------------------------------------------------


def test_needs_a_visit_instead_sends_the_patient_to_book_without_a_charge(
    page: Page, staff_context: BrowserContext, tw: TelehealthWorld, log_in: LogIn, live_server: Any
) -> None:
    world = tw.world
    evisit = sent_evisit(tw)
    staff = open_as(staff_context, world.clinician, live_server)
    open_review(staff, evisit)
    redirect = staff.get_by_role("region", name="Needs a visit instead")
    redirect.get_by_label("Message to the patient").fill("A fever for this long needs an exam: please book.")
    redirect.get_by_role("button", name="Tell the patient to book a visit").click()
    expect(staff.get_by_role("status")).to_contain_text("The patient was told they need a visit.")
    check_page(staff)
    evisit.refresh_from_db()
    assert evisit.status == Status.REDIRECTED

    log_in(world.alice_user)
    page.goto(reverse("evisits:detail", args=[evisit.pk]))
    told = page.get_by_role("region", name="You need a visit instead")
    expect(told).to_contain_text("There is no charge for this e-visit.")
    expect(told).to_contain_text("A fever for this long needs an exam: please book.")
    book = page.get_by_role("region", name="Book a visit")
    expect(book.get_by_role("link", name="Book an appointment")).to_have_attribute(
        "href", "/appointments/book/"
    )
    expect(book.get_by_role("link", name="Ask the scheduling desk for an appointment")).to_be_visible()
    check_page(page)
    assert not ServiceLine.objects.exists()


# Who sees it -------------------------------------------------------------------------------


def test_a_proxy_sees_the_list_and_another_patient_the_missing_page(
    page: Page, tw: TelehealthWorld, log_in: LogIn
) -> None:
    world = tw.world
    evisit = sent_evisit(tw)
    log_in(world.proxy_user)
    page.goto("/e-visits/")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-visits")
    expect(page.get_by_role("region", name="Whose account you are viewing")).to_contain_text("Alice Able")
    listed = page.get_by_role("list", name="Your e-visits")
    expect(listed.get_by_role("link", name=COLD)).to_be_visible()
    expect(listed).to_contain_text("Waiting for a clinician")
    check_page(page)

    log_in(world.bob_user)
    response = page.goto(reverse("evisits:detail", args=[evisit.pk]))
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    check_page(page)


# Photos ------------------------------------------------------------------------------------


def rash(tw: TelehealthWorld) -> EVisitCondition:
    questionnaire = Questionnaire.objects.create(
        slug="evisit-rash",
        title="Rash",
        items=[{"linkId": "where", "text": "Where is the rash?", "type": "string", "required": True}],
    )
    return EVisitCondition.objects.create(
        slug="rash",
        name="Rash",
        description="A rash or skin irritation.",
        questionnaire=questionnaire,
        price_item=tw.condition.price_item,
        review_team=tw.world.care_team,
        asks_for_photos=True,
    )


def small_png(tmp_path: Path) -> Path:
    path = tmp_path / "rash.png"
    Image.new("RGB", (24, 16), (200, 80, 80)).save(path, "PNG")
    return path


def test_a_photo_is_added_and_removed_before_sending(
    page: Page, tw: TelehealthWorld, log_in: LogIn, tmp_path: Path
) -> None:
    rash(tw)
    log_in(tw.world.alice_user)
    page.goto("/e-visits/new/")
    check_page(page)
    page.get_by_role("link", name=choose("Rash")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("E-visit: Rash")
    check_page(page)
    page.get_by_label("Where is the rash?").fill("Left forearm")
    page.get_by_role("button", name="Continue").click()

    evisit = EVisit.objects.get(patient=tw.world.alice)
    photos = page.get_by_role("region", name="Photos")
    expect(photos).to_contain_text("No photos added yet.")
    check_page(page)
    photos.get_by_label("Photo").set_input_files(small_png(tmp_path))
    photos.get_by_role("button", name="Add the photo").click()
    expect(page.get_by_role("status").filter(has_text="The photo was added.")).to_be_visible()
    expect(photos.get_by_role("link", name=re.compile(r"^Download rash\.png"))).to_be_visible()
    check_page(page)
    photo = EVisitPhoto.objects.get(evisit=evisit)
    assert (photo.name, photo.content_type) == ("rash.png", "image/png")
    stored = Path(photo.file.path)
    assert stored.is_file()

    photos.get_by_role("button", name=re.compile(r"^Remove ?: rash\.png$")).click()
    expect(page.get_by_role("status").filter(has_text="The photo was removed.")).to_be_visible()
    expect(photos).to_contain_text("No photos added yet.")
    check_page(page)
    assert not EVisitPhoto.objects.filter(evisit=evisit).exists()
    assert not stored.exists()
    assert EVisit.objects.get(pk=evisit.pk).status == Status.DRAFT
