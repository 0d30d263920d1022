"""SMART App Launch in the browser: fhirclient's standalone launch with PKCE against the live server.

The app is the SMART project's own Python client (`fhirclient`). It discovers the
endpoints from the live server, sends the browser to the consent page, and its redirect
URI points at a loopback port where nothing listens: Playwright intercepts that
navigation and hands the callback URL back to fhirclient, which exchanges the code (with
its PKCE verifier) and reads the record over HTTP, as a real app would. Every page the
person sees goes through `check_page` (axe at desktop and 360 px).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests
from fhirclient import client as fhir_client
from fhirclient.models.condition import Condition
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient as FhirPatient
from fhirclient.server import FHIRNotFoundException
from oauth2_provider.models import Application
from playwright.sync_api import Page, Route, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.records.tests.support import make_panel, make_problem
from portal.smart.models import AppRegistration, PatientAuthorization
from portal.smart.tests.support import make_app, stored_access_token
from portal.test import World, make_patient

pytestmark = pytest.mark.browser

CALLBACK = "http://127.0.0.1:8765/callback"
FULL_SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


@dataclass
class Launched:
    """An app after the launch: fhirclient's client and the bearer token it holds."""

    smart: fhir_client.FHIRClient
    token: str
    callback_url: str


def fhirclient_for(live_server: Any, app: Application, scope: str = FULL_SCOPE) -> fhir_client.FHIRClient:
    return fhir_client.FHIRClient(
        settings={
            "app_id": app.client_id,
            "api_base": live_server.url + "/fhir/r4",
            "redirect_uri": CALLBACK,
            "scope": scope,
        }
    )


BACK_IN_APP = '<!doctype html><html lang="en"><title>App</title><main><h1>Back in the app</h1></main></html>'


def catch_callback(page: Page, *, follow: bool = False) -> list[str]:
    """Answer navigations to the app's redirect URI in the browser, remembering their URLs.

    With `follow` False the consent form's answer is fetched by Playwright without
    following its redirect, and the redirect's target is recorded instead: the portal's
    Content Security Policy (`form-action 'self'`) makes Chromium block a form submission
    that redirects to another origin, such as the app's loopback redirect URI. The test
    `test_browser_follows_the_redirect_back_to_the_app` checks the browser path itself.
    """
    seen: list[str] = []

    def fulfil(route: Route) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=BACK_IN_APP)

    def consent_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location", "")
        if response.status == 302 and location.startswith(CALLBACK):
            seen.append(location)
            route.fulfill(status=200, content_type="text/html", body=BACK_IN_APP)
        else:
            route.fulfill(response=response)

    page.route("http://127.0.0.1:8765/**", fulfil)
    if not follow:
        page.route("**/oauth/authorize/**", consent_answer)
    return seen


def open_consent(page: Page, smart: fhir_client.FHIRClient) -> None:
    url = smart.authorize_url
    assert url.startswith(smart.server.base_uri.rsplit("/fhir/r4", 1)[0] + "/oauth/authorize/"), url
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("read your record")


def allow_and_return(page: Page, smart: fhir_client.FHIRClient, seen: list[str]) -> Launched:
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Back in the app")).to_be_visible()
    callback = next(url for url in seen if url.startswith(CALLBACK))
    smart.handle_callback(callback)
    assert smart.ready
    token = smart.server.auth.access_token
    assert token
    return Launched(smart=smart, token=token, callback_url=callback)


def bearer_get(live_server: Any, token: str, path: str) -> requests.Response:
    return requests.get(
        live_server.url + "/fhir/r4/" + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        timeout=10,
    )


@pytest.fixture
def alice_record(world: World) -> World:
    make_panel(world.alice)
    make_problem(world.alice)
    make_panel(world.bob, "Bob's lipid panel", values=[("2093-3", "Cholesterol", "180", "mg/dL", "0", "200")])
    make_problem(world.bob, "Asthma", code="J45")
    return world


def test_fhirclient_standalone_launch_with_pkce_reads_alices_record(
    page: Page, log_in: LogIn, live_server: Any, alice_record: World
) -> None:
    world = alice_record
    app = make_app(redirect=CALLBACK)
    smart = fhirclient_for(live_server, app)
    seen = catch_callback(page)
    log_in(world.alice_user)

    open_consent(page, smart)
    assert "code_challenge_method=S256" in smart.authorize_url
    check_page(page)
    launched = allow_and_return(page, smart, seen)

    assert smart.patient_id == f"patient-{world.alice.pk}"
    patient = smart.patient
    assert isinstance(patient, FhirPatient)
    assert patient.name[0].family == "Able" and patient.name[0].given == ["Alice"]
    assert launched.smart.server.auth.refresh_token  # offline_access was granted

    observations = Observation.where({"patient": smart.patient_id}).perform_resources(smart.server)
    names = sorted(
        observation.code.text or observation.code.coding[0].display for observation in observations
    )
    assert {"Glucose", "Sodium", "Potassium"} <= set(names)
    assert "Cholesterol" not in names
    assert all(observation.subject.reference == f"Patient/{smart.patient_id}" for observation in observations)
    conditions = Condition.where({"patient": smart.patient_id}).perform_resources(smart.server)
    assert [condition.code.text for condition in conditions] == ["Essential hypertension"]
    assert conditions[0].subject.reference == f"Patient/{smart.patient_id}"

    authorization = PatientAuthorization.objects.get()
    assert (authorization.user, authorization.patient) == (world.alice_user, world.alice)


def test_browser_follows_the_redirect_back_to_the_app(
    page: Page, log_in: LogIn, live_server: Any, alice_record: World
) -> None:
    app = make_app(redirect=CALLBACK)
    smart = fhirclient_for(live_server, app)
    seen = catch_callback(page, follow=True)
    log_in(alice_record.alice_user)
    open_consent(page, smart)
    # The console error is the failure this test is about; collect it here, not at teardown.
    try:
        launched = allow_and_return(page, smart, seen)
    finally:
        check_page(page)
    assert launched.smart.patient_id == f"patient-{alice_record.alice.pk}"


def test_proxy_launch_chooses_alice_and_reads_nothing_of_bob(
    page: Page, log_in: LogIn, live_server: Any, alice_record: World
) -> None:
    world = alice_record
    # Pat has a record of their own too, so the consent page asks whose record the app may read.
    own = make_patient("10000009", "Pat", "Able", world.campus, account=world.proxy_user)
    app = make_app(redirect=CALLBACK)
    smart = fhirclient_for(live_server, app)
    seen = catch_callback(page)
    log_in(world.proxy_user)

    open_consent(page, smart)
    expect(page.get_by_role("group", name="Whose record may the app read?")).to_be_visible()
    expect(page.locator(f"#patient-{own.pk}")).to_be_checked()
    page.get_by_label("Alice Able", exact=True).check()
    check_page(page)
    launched = allow_and_return(page, smart, seen)

    assert smart.patient_id == f"patient-{world.alice.pk}"
    assert smart.patient.name[0].given == ["Alice"]
    bob_id = f"patient-{world.bob.pk}"
    with pytest.raises(FHIRNotFoundException):
        FhirPatient.read(bob_id, smart.server)
    assert bearer_get(live_server, launched.token, f"Patient/{bob_id}").status_code == 404
    assert bearer_get(live_server, launched.token, f"Patient/{smart.patient_id}").status_code == 200
    bobs = bearer_get(live_server, launched.token, f"Observation?patient={bob_id}")
    assert bobs.status_code in (200, 404)
    if bobs.status_code == 200:
        assert not bobs.json().get("entry")


def test_consent_errors_and_narrowing(
    page: Page, log_in: LogIn, live_server: Any, alice_record: World
) -> None:
    world = alice_record
    app = make_app(redirect=CALLBACK)
    scope = "launch/patient openid fhirUser patient/Observation.rs patient/Condition.rs"
    smart = fhirclient_for(live_server, app, scope)
    seen = catch_callback(page)
    log_in(world.alice_user)

    open_consent(page, smart)
    for box in page.locator('input[name="keep"][value^="patient/"]').all():
        box.uncheck()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("alert")).to_contain_text("Keep at least one thing")
    check_page(page)
    assert not PatientAuthorization.objects.exists()

    page.locator('input[name="keep"][value="patient/Observation.rs"]').check()
    launched = allow_and_return(page, smart, seen)
    granted = set(stored_access_token(launched.token).scope.split())
    assert "patient/Observation.rs" in granted
    assert "patient/Condition.rs" not in granted
    assert (
        bearer_get(live_server, launched.token, f"Observation?patient={smart.patient_id}").status_code == 200
    )
    assert bearer_get(live_server, launched.token, f"Condition?patient={smart.patient_id}").status_code == 403


def test_connected_apps_disconnect_stops_the_token_at_once(
    page: Page, log_in: LogIn, live_server: Any, alice_record: World
) -> None:
    world = alice_record
    app = make_app("Health Tracker", redirect=CALLBACK)
    smart = fhirclient_for(live_server, app)
    seen = catch_callback(page)
    log_in(world.alice_user)
    open_consent(page, smart)
    launched = allow_and_return(page, smart, seen)
    assert bearer_get(live_server, launched.token, f"Patient/{smart.patient_id}").status_code == 200

    page.goto("/apps/")
    expect(page.get_by_role("heading", name="Health Tracker")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Disconnect Health Tracker").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Disconnect Health Tracker?")
    check_page(page)
    page.get_by_role("button", name="Disconnect the app").click()
    page.wait_for_url("**/apps/")
    check_page(page)

    assert bearer_get(live_server, launched.token, f"Patient/{smart.patient_id}").status_code == 401
    assert PatientAuthorization.objects.get().revoked_at is not None


def test_developer_registers_and_admin_approves(
    page: Page, log_in: LogIn, live_server: Any, world: World
) -> None:
    log_in(world.bob_user)
    page.goto("/developers/")
    check_page(page)
    page.get_by_label("App name").fill("Step Counter")
    page.get_by_label("What the app does").fill("Shows your lab results next to your steps.")
    page.get_by_label("Website").fill("https://steps.example.org")
    page.get_by_label("Redirect URIs").fill("http://steps.example.org/callback")
    page.get_by_label("Public").check()
    page.get_by_role("button", name="Ask the clinic to approve it").click()
    expect(page.locator("body")).to_contain_text("must use https")
    check_page(page)
    assert not AppRegistration.objects.exists()

    page.get_by_label("Redirect URIs").fill(CALLBACK)
    page.get_by_role("button", name="Ask the clinic to approve it").click()
    page.wait_for_url("**/developers/")
    expect(page.get_by_role("heading", name="Step Counter")).to_be_visible()
    check_page(page)
    registration = AppRegistration.objects.get()
    assert registration.status == "pending"

    log_in(world.admin)
    page.goto("/staff/apps/")
    expect(page.get_by_role("heading", name="Step Counter")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Approve Step Counter").click()
    expect(page.locator("body")).to_contain_text("Step Counter is approved")
    check_page(page)
    registration.refresh_from_db()
    assert registration.status == "approved" and registration.application is not None

    # The developer now sees the client_id; an app with it launches for alice.
    log_in(world.bob_user)
    page.goto("/developers/")
    expect(page.locator("body")).to_contain_text(registration.application.client_id)

    log_in(world.alice_user)
    smart = fhirclient_for(live_server, registration.application)
    seen = catch_callback(page)
    open_consent(page, smart)
    launched = allow_and_return(page, smart, seen)
    assert smart.patient_id == f"patient-{world.alice.pk}"
    assert bearer_get(live_server, launched.token, f"Patient/{smart.patient_id}").status_code == 200


def test_developers_error_with_a_long_redirect_uri_fits_a_phone(
    page: Page, log_in: LogIn, world: World
) -> None:
    log_in(world.bob_user)
    page.goto("/developers/")
    page.get_by_label("App name").fill("Step Counter")
    page.get_by_label("What the app does").fill("Shows your lab results next to your steps.")
    page.get_by_label("Website").fill("https://steps.example.org")
    # The error quotes the address: one long unbreakable word that must wrap, not widen the page.
    page.get_by_label("Redirect URIs").fill("http://steps.example.org/" + "callback-" * 12)
    page.get_by_label("Public").check()
    page.get_by_role("button", name="Ask the clinic to approve it").click()
    expect(page.locator("body")).to_contain_text("must use https")
    check_page(page)


def test_developers_list_fits_a_phone(page: Page, log_in: LogIn, world: World) -> None:
    log_in(world.bob_user)
    page.goto("/developers/")
    page.get_by_label("App name").fill("Step Counter")
    page.get_by_label("What the app does").fill("Shows your lab results next to your steps.")
    page.get_by_label("Website").fill("https://steps.example.org")
    page.get_by_label("Redirect URIs").fill(CALLBACK)
    page.get_by_label("Public").check()
    page.get_by_role("button", name="Ask the clinic to approve it").click()
    expect(page.get_by_role("heading", name="Step Counter")).to_be_visible()
    check_page(page)


def test_staff_apps_pending_fits_a_phone(page: Page, log_in: LogIn, world: World) -> None:
    AppRegistration.objects.create(
        developer=world.bob_user,
        name="Step Counter",
        description="Shows your lab results next to your steps.",
        homepage="https://steps.example.org",
        redirect_uris=CALLBACK,
        client_type=AppRegistration.ClientType.PUBLIC,
    )
    log_in(world.admin)
    page.goto("/staff/apps/")
    expect(page.get_by_role("heading", name="Step Counter")).to_be_visible()
    check_page(page)
