"""SMART Health Cards in the browser: each card's page checked with axe, its QR code read off
the screen by a barcode reader and its signature checked with the published key."""

from __future__ import annotations

import json
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from jwcrypto import jwk, jws
from PIL import Image
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.healthcards.qr import jws_from_qr_text
from portal.records.tests.support import days_ago, make_immunization, make_panel
from portal.test import World

pytestmark = pytest.mark.browser


@pytest.fixture
def record(world: World) -> World:
    make_immunization(world.alice, "Influenza, seasonal", code="150", campus=world.campus)
    make_immunization(world.alice, "Travel vaccine, unspecified", code="")
    make_panel(world.alice, "Basic metabolic panel", when=days_ago(10))
    return world


def card_on_screen(page: Page) -> str:
    """Read the QR code as a phone would, from a screenshot, and return the card in it."""
    shot = page.get_by_role("img", name="QR code: your SMART Health Card").screenshot()
    (found,) = zxingcpp.read_barcodes(Image.open(BytesIO(shot)))
    return jws_from_qr_text(found.text)


def claims(page: Page, token: str) -> dict[str, Any]:
    keyset = page.request.get("/.well-known/jwks.json").json()
    parsed = jws.JWS()
    parsed.deserialize(token)
    parsed.verify(jwk.JWK(**keyset["keys"][0]))
    payload: dict[str, Any] = json.loads(zlib.decompress(parsed.payload, wbits=-15))
    return payload


def test_the_patient_makes_both_cards(page: Page, record: World, log_in: LogIn) -> None:
    log_in(record.alice_user)
    page.goto("/record/")
    page.get_by_role("navigation", name="Health record sections").get_by_role(
        "link", name="Health cards"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SMART Health Cards")
    check_page(page)

    page.get_by_role("link", name="Card of your immunizations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health card: immunizations")
    expect(page.get_by_role("heading", name="Influenza, seasonal")).to_be_visible()
    expect(page.get_by_text("Travel vaccine, unspecified")).to_be_visible()  # left out, and said so
    check_page(page)
    payload = claims(page, card_on_screen(page))
    (shot,) = [
        entry["resource"]
        for entry in payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        if entry["resource"]["resourceType"] == "Immunization"
    ]
    assert shot["vaccineCode"]["coding"][0]["code"] == "150"

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the file").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".smart-health-card")
    card_file = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    claims(page, card_file["verifiableCredential"][0])

    page.get_by_role("link", name="Back to health cards").click()
    page.get_by_role("link", name="Card of your recent test results").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health card: recent test results")
    expect(page.get_by_role("heading", name="Potassium")).to_be_visible()
    check_page(page)
    entries = claims(page, card_on_screen(page))["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    assert len(entries) == 4  # the patient and three results
