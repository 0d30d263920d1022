"""An administrator registers a backend service and a patient group; every page passes axe at 360 px."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.bulk.models import BackendService, PatientGroup
from portal.test import World

pytestmark = pytest.mark.browser


def test_the_administrator_registers_a_group_and_a_service(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.admin)
    page.goto("/staff/bulk/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Backend services")
    check_page(page)

    page.get_by_role("link", name="Create a patient group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create a patient group")
    check_page(page)
    page.get_by_role("button", name="Create the group").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a campus, a care team, or both.")
    check_page(page)
    page.get_by_label("Name", exact=True).fill("Family medicine, Rochester")
    page.get_by_label("Care team").select_option(label=world.care_team.name)
    page.get_by_role("button", name="Create the group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Family medicine, Rochester")
    expect(page.get_by_text("Patients in the group today")).to_be_visible()
    check_page(page)
    assert PatientGroup.objects.get().care_team == world.care_team

    page.goto("/staff/bulk/services/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a backend service")
    check_page(page)
    private = jwk.JWK.generate(kty="EC", crv="P-384", kid="ec-1")
    page.get_by_label("Name", exact=True).fill("Population Health")
    page.get_by_label("Observation").check()
    page.get_by_label("Family medicine, Rochester").check()
    page.get_by_label("Public keys (JWK Set)").fill(
        json.dumps({"keys": [json.loads(private.export_private())]})
    )
    page.get_by_role("button", name="Register the service").click()
    expect(page.get_by_role("alert")).to_contain_text("private key material")
    check_page(page)

    page.get_by_label("Public keys (JWK Set)").fill(
        json.dumps({"keys": [json.loads(private.export_public())]})
    )
    page.get_by_role("button", name="Register the service").click()
    service = BackendService.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text("Population Health")
    expect(page.get_by_text(service.client_id)).to_be_visible()
    check_page(page)

    page.get_by_role("button", name="Suspend Population Health").click()
    expect(page.get_by_role("button", name="Reinstate Population Health")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Back to backend services").click()
    expect(page.get_by_role("region", name="Backend services")).to_contain_text("Suspended")
    check_page(page)
