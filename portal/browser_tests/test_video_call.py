"""A real video visit between two Chromium browsers with fake cameras, all on loopback.

The patient passes the device check and waits; the clinician joins and admits them (the
"Admit" button beside their name); both pages must decode live video from the other
(inbound-rtp framesDecoded from getStats). The clinician sends the patient back to the
waiting room and admits them again, then ends the visit for everyone. Another patient gets the missing page
and cannot read or write the visit's signaling. PORTAL_VIDEO_LOOPBACK_ONLY (on in the
test settings) keeps every ICE candidate on 127.0.0.1, and each browser is launched
with --allow-loopback-in-peer-connection so that is enough to connect.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Page, expect

from portal.accounts.models import User
from portal.browser_tests.conftest import (
    CHROMIUM_ARGS,
    DESKTOP,
    TIMEOUT_MS,
    LogIn,
    check_page,
    chromium_path,
    sign_in,
    watch_console,
)
from portal.telehealth.models import Participant, VideoVisit
from portal.telehealth.tests.support import TelehealthWorld, telehealth_world
from portal.test import World

pytestmark = pytest.mark.browser

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
FRAMES_WITHIN_S = 20
# The name after the button's visible text is visually hidden (positioned, so read after a space).
ADMIT_ALICE = re.compile(r"^Admit\s*: Alice Able$")
SEND_ALICE_BACK = re.compile(r"^Send back to the waiting room\s*: Alice Able$")


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


@pytest.fixture
def one_request_at_a_time(live_server: Any) -> Iterator[None]:
    """Serve one request at a time for this test.

    The live server shares its one in-memory SQLite connection between its request
    threads; two browsers polling and signaling every second would otherwise use it
    at the same moment ("cannot start a transaction within a transaction"). A real
    server gives each thread its own connection, so this only concerns the test.
    """
    server = live_server.thread.httpd
    application = server.get_app()
    lock = threading.Lock()

    def serialized(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            return application(environ, start_response)

    server.set_app(serialized)
    yield
    server.set_app(application)


@pytest.fixture
def media_browsers(browser: Browser) -> Iterator[tuple[Browser, Browser]]:
    """Two separate Chromium processes with fake camera and microphone (the session's
    Playwright launches them: a second sync Playwright cannot start in this thread)."""
    launch: dict[str, Any] = {
        "executable_path": chromium_path(),
        "headless": True,
        "args": CHROMIUM_ARGS + MEDIA_ARGS,
    }
    first = browser.browser_type.launch(**launch)
    second = browser.browser_type.launch(**launch)
    yield first, second
    second.close()
    first.close()


def open_as(media_browser: Browser, user: User, live_server: Any) -> tuple[BrowserContext, Page]:
    context = media_browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    sign_in(context, user, live_server.url)
    page = context.new_page()
    watch_console(page)
    return context, page


def wait_for_frames(page: Page, who: str) -> int:
    deadline = time.monotonic() + FRAMES_WITHIN_S
    frames = 0
    while time.monotonic() < deadline:
        frames = int(page.evaluate("window.videoVisit.framesDecoded()"))
        if frames > 0:
            return frames
        time.sleep(0.5)
    raise AssertionError(f"the {who}'s page decoded no video in {FRAMES_WITHIN_S} s")


@pytest.mark.usefixtures("one_request_at_a_time")
def test_patient_and_clinician_see_each_other_then_the_visit_ends(
    media_browsers: tuple[Browser, Browser], tw: TelehealthWorld, live_server: Any, browser: Browser
) -> None:
    assert settings.PORTAL_VIDEO_LOOPBACK_ONLY
    appointment = tw.appointment
    patient_browser, clinician_browser = media_browsers
    patient_context, patient = open_as(patient_browser, tw.world.alice_user, live_server)
    _clinician_context, clinician = open_as(clinician_browser, tw.world.clinician, live_server)

    # The way in: the appointment page's button, then the device check.
    patient.goto(reverse("appointments:detail", args=[appointment.pk]))
    patient.get_by_role("link", name="Join video visit").click()
    expect(patient.get_by_role("heading", level=1)).to_have_text("Video visit")
    check_page(patient)
    patient.get_by_role("button", name="Start the check").click()
    expect(patient.locator("#check-camera")).to_have_attribute("data-result", "pass")
    expect(patient.locator("#check-microphone")).to_have_attribute("data-result", "pass", timeout=12_000)
    expect(patient.locator("#check-connection")).to_have_attribute("data-result", "pass")
    patient.get_by_role("button", name="Play a test sound").click()
    patient.get_by_role("button", name="Yes, I heard it").click()
    expect(patient.locator("#check-speaker")).to_have_text("Speaker working.")
    check_page(patient)

    # The waiting room.
    patient.get_by_role("button", name="Join the waiting room").click()
    expect(patient.get_by_role("heading", name="Waiting room")).to_be_visible()
    expect(patient.locator("#video-place")).to_have_text("You are next.")
    check_page(patient)

    # The clinician joins, sees them waiting and admits them.
    clinician.goto(reverse("staff_video:visit", args=[appointment.pk]))
    clinician.get_by_role("button", name="Join the visit").click()
    expect(clinician.locator("[data-video-waiting-list]")).to_contain_text("Alice")
    expect(patient.locator("#video-host-seen")).to_have_text("Your clinician has seen that you are waiting.")
    check_page(clinician)
    clinician.get_by_role("button", name=ADMIT_ALICE).click()

    # The waiting room turns into the call without a reload; both sides decode video.
    expect(patient.get_by_role("heading", name="Video call")).to_be_visible()
    expect(patient.get_by_role("heading", name="Waiting room")).to_be_hidden()
    assert wait_for_frames(patient, "patient") > 0
    assert wait_for_frames(clinician, "clinician") > 0
    expect(patient.locator(".video-tile-remote figcaption")).to_have_text("Dr. Carol Staff")
    expect(patient.locator("#video-indicator")).to_have_attribute("data-state", "live")
    check_page(patient)
    check_page(clinician)

    # Chat, mute and camera off.
    patient.get_by_label("Your message").fill("Can you hear me? <b>not bold</b>")
    patient.get_by_role("button", name="Send").click()
    expect(clinician.locator("#video-chat-log")).to_contain_text("Can you hear me? <b>not bold</b>")
    patient.get_by_role("button", name="Mute").click()
    expect(patient.locator("#video-mute")).to_have_attribute("aria-pressed", "true")
    patient.get_by_role("button", name="Turn camera off").click()
    expect(patient.locator("#video-camera")).to_have_attribute("aria-pressed", "true")
    assert clinician.locator("#video-share").is_visible()
    assert patient.locator("#video-share").count() == 0

    # The clinician sends the patient back to the waiting room, then lets them in again.
    peers = clinician.locator("[data-video-peer-list]")
    expect(peers).to_contain_text("Alice Able · Patient")
    peers.get_by_role("button", name=SEND_ALICE_BACK).click()
    expect(patient.get_by_role("heading", name="Waiting room")).to_be_visible()
    expect(patient.get_by_role("heading", name="Video call")).to_be_hidden()
    expect(patient.locator("#video-waiting-status")).to_contain_text("moved you back to the waiting room")
    expect(clinician.locator("[data-video-peers-empty]")).to_be_visible()
    check_page(patient)
    clinician.get_by_role("button", name=ADMIT_ALICE).click()
    expect(patient.get_by_role("heading", name="Video call")).to_be_visible()
    assert wait_for_frames(patient, "patient, admitted again") > 0
    # The chat said before is still theirs (they were first admitted before it).
    expect(patient.locator("#video-chat-log")).to_contain_text("Can you hear me?")

    # A second window takes over (the first stops); the clinician rebuilds the connection.
    second = patient_context.new_page()
    second_problems = watch_console(second)
    second.goto(reverse("video:visit", args=[appointment.pk]))
    expect(patient.locator("#video-status")).to_contain_text("You joined from another window")
    assert wait_for_frames(second, "patient's second window") > 0
    # Polls that fail (the network drops) back off and say so, then the call carries on.
    patient_context.set_offline(True)
    expect(second.locator("#video-status")).to_contain_text("Reconnecting")
    patient_context.set_offline(False)
    expect(second.locator("#video-status")).not_to_contain_text("Reconnecting", timeout=15_000)
    before = wait_for_frames(second, "patient's second window")
    time.sleep(1)
    assert int(second.evaluate("window.videoVisit.framesDecoded()")) > before
    # The requests that failed while offline were logged, as they should be.
    second_problems.take()

    # The clinician ends the visit; the patient's page says so.
    clinician.get_by_role("button", name="End the visit for everyone").click()
    expect(second.get_by_role("heading", name="The visit has ended")).to_be_visible()
    expect(clinician.get_by_role("heading", name="The call has ended")).to_be_visible()
    assert VideoVisit.objects.get(appointment=appointment).status == VideoVisit.Status.ENDED
    assert not Participant.objects.filter(status=Participant.Status.ADMITTED).exists()

    # Another patient gets the missing page and no signaling.
    stranger_context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    try:
        sign_in(stranger_context, tw.world.bob_user, live_server.url)
        stranger = stranger_context.new_page()
        assert stranger.goto(reverse("video:visit", args=[appointment.pk])).status == 404  # type: ignore[union-attr]
        stranger.goto("/")
        token = next(c["value"] for c in stranger_context.cookies() if c["name"] == settings.CSRF_COOKIE_NAME)
        poll = reverse("video_api:poll", args=[appointment.pk])
        signal = reverse("video_api:signal", args=[appointment.pk])
        assert stranger_context.request.get(f"{poll}?session=x&after=0&chat_after=0&claim=1").status == 404
        # Nor can a link (a navigation, not the page's script) poll for someone in the call.
        opened = patient_context.new_page().goto(f"{poll}?session=from-a-link&claim=1")
        assert opened is not None and opened.status == 400
        answer = stranger_context.request.post(
            signal,
            headers={"X-CSRFToken": token, "Content-Type": "application/json"},
            data={"session": "x", "to": 1, "to_session": "y", "kind": "candidate", "payload": {}},
        )
        assert answer.status == 404
    finally:
        stranger_context.close()


def test_a_blocked_camera_gets_plain_instructions_and_the_phone(
    page: Page, tw: TelehealthWorld, log_in: LogIn
) -> None:
    # As when the person (or their browser's settings) said no to the camera.
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    log_in(tw.world.alice_user)
    page.goto(reverse("video:visit", args=[tw.appointment.pk]))
    page.get_by_role("button", name="Start the check").click()
    blocked = page.locator("[data-check-message=blocked]")
    expect(blocked).to_be_visible()
    expect(blocked.get_by_role("link", name="507-555-0101")).to_have_attribute("href", "tel:507-555-0101")
    expect(page.locator("#check-camera")).to_have_attribute("data-result", "fail")
    expect(page.get_by_label("Neither: I will watch, listen and use the chat")).to_be_checked()
    check_page(page)
    # They may still wait and join without devices.
    page.get_by_role("button", name="Join the waiting room").click()
    expect(page.get_by_role("heading", name="Waiting room")).to_be_visible()
    check_page(page)


def test_a_browser_without_webrtc_is_told_and_given_the_phone(
    page: Page, tw: TelehealthWorld, log_in: LogIn
) -> None:
    page.add_init_script("delete window.RTCPeerConnection;")
    log_in(tw.world.alice_user)
    page.goto(reverse("video:visit", args=[tw.appointment.pk]))
    unsupported = page.locator("[data-check-message=unsupported]")
    expect(unsupported).to_be_visible()
    expect(unsupported.get_by_role("link", name="507-555-0101")).to_be_visible()
    expect(page.get_by_role("button", name="Start the check")).to_be_disabled()
    check_page(page)
