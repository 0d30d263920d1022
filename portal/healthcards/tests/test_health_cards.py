"""SMART Health Cards: signed with the published key, scannable, and holding only what the
record shows this person (released results, no teenager's confidential care for a parent)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.test import Client
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from jwcrypto import jwk, jws
from PIL import Image

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.healthcards import cards, keys, qr
from portal.healthcards.cards import Kind, make_card
from portal.lib.env import ConfigError
from portal.patients.access import decide
from portal.patients.models import Scope
from portal.records.models import Observation, ReleasePreference, ResultReport
from portal.records.tests.support import days_ago, make_immunization, make_panel
from portal.records.tests.test_release_rules import adolescent
from portal.test import World, captured_queries

pytestmark = pytest.mark.django_db

IMMUNIZATIONS = reverse("healthcards:immunizations")
IMMUNIZATIONS_FILE = reverse("healthcards:immunizations_file")
LABS = reverse("healthcards:labs")
LABS_FILE = reverse("healthcards:labs_file")
JWKS = "/.well-known/jwks.json"


@pytest.fixture
def record(world: World) -> World:
    make_immunization(world.alice, "Influenza, seasonal", code="150", given_on=dt.date(2025, 10, 15))
    make_immunization(
        world.alice,
        "COVID-19, mRNA",
        code="208",
        given_on=dt.date(2024, 9, 1),
        lot_number="EW0182",
        campus=world.campus,
    )
    make_immunization(world.alice, "Travel vaccine, unspecified", code="")
    make_panel(world.alice, "Basic metabolic panel", when=days_ago(400))
    make_panel(world.alice, "Basic metabolic panel", when=days_ago(20))
    return world


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def published_key() -> jwk.JWK:
    keyset = Client().get(JWKS).json()
    return jwk.JWK(**keyset["keys"][0])


def verified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card's protected header and inflated payload, once its signature checks out."""
    parsed = jws.JWS()
    parsed.deserialize(token)
    parsed.verify(published_key())
    header = parsed.jose_header
    payload = json.loads(zlib.decompress(parsed.payload, wbits=-15))
    return header, payload


def downloaded(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/smart-health-card"
    assert response["Cache-Control"] == "no-store"
    assert re.match(
        r'attachment; filename="[a-z]+-[0-9]+-[0-9-]+\.smart-health-card"', response["Content-Disposition"]
    )
    credentials = json.loads(response.content)["verifiableCredential"]
    assert len(credentials) == 1
    return str(credentials[0])


def resources(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    return [entry["resource"] for entry in entries if entry["resource"]["resourceType"] == kind]


def test_the_issuer_key_is_public_cacheable_and_open_to_every_origin(db: None) -> None:
    response = Client().get(JWKS)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=3600"
    (key,) = response.json()["keys"]
    assert {name: key[name] for name in ("kty", "crv", "use", "alg")} == {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
    }
    assert "d" not in key
    assert key["kid"] == jwk.JWK(**key).thumbprint()  # RFC 7638, SHA-256
    assert Client().post(JWKS).status_code == 405


def test_an_immunization_card_is_signed_with_the_published_key(record: World) -> None:
    before = int(time.time())
    header, payload = verified(downloaded(signed_in(record.alice_user), IMMUNIZATIONS_FILE))
    assert header == {"alg": "ES256", "zip": "DEF", "kid": published_key().thumbprint()}
    assert payload["iss"] == settings.PORTAL_SHC_ISSUER
    assert not payload["iss"].endswith("/")
    assert before <= payload["nbf"] <= time.time()
    assert payload["vc"]["type"] == ["https://smarthealth.cards#health-card"]
    assert payload["vc"]["credentialSubject"]["fhirVersion"] == "4.0.1"


def test_the_bundle_is_valid_fhir_and_minimal(record: World) -> None:
    _header, payload = verified(downloaded(signed_in(record.alice_user), IMMUNIZATIONS_FILE))
    bundle = payload["vc"]["credentialSubject"]["fhirBundle"]
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    assert [entry["fullUrl"] for entry in bundle["entry"]] == ["resource:0", "resource:1", "resource:2"]
    (patient,) = resources(payload, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "name": [{"family": "Able", "given": ["Alice"]}],
        "birthDate": "1980-05-17",
    }
    flu, covid = resources(payload, "Immunization")
    assert flu == {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "150"}]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": "2025-10-15",
    }
    assert covid["performer"] == [{"actor": {"display": "Rochester, Minnesota"}}]
    assert covid["lotNumber"] == "EW0182"
    text = json.dumps(bundle)
    for unwanted in ('"id"', '"meta"', '"text"', '"display": "Influenza'):
        assert unwanted not in text


def test_the_qr_code_scans_back_to_the_same_card(record: World) -> None:
    access = decide(record.alice_user, record.alice)
    assert access is not None
    card = make_card(access, Kind.IMMUNIZATIONS)
    code = qr.qr_code(card.jws)
    assert isinstance(code.version, int) and code.version <= 22
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=4, border=4)
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(buffer.getvalue())))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    assert found.text.startswith("shc:/") and found.text[5:].isdigit()
    assert found.text == "shc:/" + qr.numeric(card.jws)
    assert qr.jws_from_qr_text(found.text) == card.jws
    verified(card.jws)


def test_the_card_page_shows_what_is_on_it_and_an_accessible_qr_code(record: World) -> None:
    page = signed_in(record.alice_user).get(IMMUNIZATIONS).content.decode()
    assert "Influenza, seasonal" in page and "COVID-19, mRNA" in page and "EW0182" not in page
    assert re.search(
        r'<svg role="img" aria-label="QR code: your SMART Health Card of the immunizations', page
    )
    assert f'href="{IMMUNIZATIONS_FILE}"' in page
    # The vaccine with no code cannot be read by a verifier: left out, and the patient is told.
    assert "has no standard vaccine code" in page and "Travel vaccine, unspecified" in page
    assert f'<a href="{reverse("healthcards:choose")}" aria-current="page">Health cards</a>' in page


def test_the_labs_card_holds_the_latest_released_value_of_each_test_this_year(record: World) -> None:
    alice = record.alice
    make_panel(
        alice, "Lipid panel", when=days_ago(5), values=[("2093-3", "Cholesterol", "240", "mg/dL", "0", "200")]
    )
    make_panel(
        alice,
        "Held thyroid panel",
        when=days_ago(2),
        values=[("3016-3", "TSH", "9.1", "mIU/L", "0.4", "4")],
        available_at=days_ago(-2),
    )
    make_panel(
        alice,
        "Preliminary CBC",
        when=days_ago(1),
        values=[("718-7", "Hemoglobin", "11", "g/dL", "12", "16")],
        status=ResultReport.Status.PRELIMINARY,
    )
    Observation.objects.create(
        patient=alice,
        code="8867-4",
        name="Heart rate",
        value_number=Decimal(70),
        unit="/min",
        category=Observation.Category.VITAL_SIGNS,
        effective_at=days_ago(1),
    )
    Observation.objects.create(
        patient=alice,
        code="5196-1",
        name="Hepatitis B surface antigen",
        value_text="Negative",
        effective_at=days_ago(3),
    )
    _header, payload = verified(downloaded(signed_in(record.alice_user), LABS_FILE))
    Bundle.model_validate(payload["vc"]["credentialSubject"]["fhirBundle"])
    labs = resources(payload, "Observation")
    assert [lab["code"]["coding"][0]["code"] for lab in labs] == [
        "5196-1",
        "2093-3",
        "2345-7",
        "2951-2",
        "2823-3",
    ]
    assert labs[0]["valueString"] == "Negative"
    potassium = labs[-1]
    assert potassium["valueQuantity"] == {"value": 5.4, "unit": "mmol/L"}
    assert potassium["subject"] == {"reference": "resource:0"}
    assert potassium["status"] == "final"
    assert potassium["code"]["coding"][0]["system"] == "http://loinc.org"
    # The value from 20 days ago, not the one from 400 days ago.
    assert potassium["effectiveDateTime"].startswith(days_ago(20).astimezone(dt.UTC).date().isoformat())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", potassium["effectiveDateTime"])


def test_results_waiting_for_review_stay_off_the_card(record: World) -> None:
    ReleasePreference.objects.create(patient=record.alice, category="lab", wait_for_review=True)
    client = signed_in(record.alice_user)
    page = client.get(LABS).content.decode()
    assert "There are no lab results from these months" in page and "<svg" not in page
    assert client.get(LABS_FILE)["Location"] == LABS


def test_a_parent_never_gets_a_teenagers_confidential_results_or_vaccines(world: World) -> None:
    teen, teen_user, parent = adolescent(world)
    make_panel(teen, "Everyday panel", when=days_ago(3))
    make_panel(
        teen,
        "Sexual health screen",
        when=days_ago(2),
        values=[("5196-1", "HBsAg", "0", "index", "0", "1")],
        sensitivity="sexual-health",
    )
    make_immunization(teen, "HPV, 9-valent", code="165", sensitivity="sexual-health")
    make_immunization(teen, "Tdap", code="115")
    for user, sees_secret in ((teen_user, True), (parent, False)):
        client = signed_in(user)
        _h, labs = verified(downloaded(client, LABS_FILE))
        codes = {lab["code"]["coding"][0]["code"] for lab in resources(labs, "Observation")}
        assert ("5196-1" in codes) is sees_secret and "2345-7" in codes
        _h, shots = verified(downloaded(client, IMMUNIZATIONS_FILE))
        vaccines = {shot["vaccineCode"]["coding"][0]["code"] for shot in resources(shots, "Immunization")}
        assert ("165" in vaccines) is sees_secret and "115" in vaccines
        pages = client.get(LABS).content.decode() + client.get(IMMUNIZATIONS).content.decode()
        assert ("HBsAg" in pages) is sees_secret and ("HPV" in pages) is sees_secret


def test_a_full_card_keeps_the_newest_and_says_what_was_left_out(world: World) -> None:
    for n in range(60):
        make_immunization(
            world.alice,
            f"Vaccine number {n}",
            code=str(100 + n),
            given_on=dt.date(2000, 1, 1) + dt.timedelta(days=90 * n),
            lot_number=f"LOT{n:06d}XYZ",
            campus=world.campus,
        )
    access = decide(world.alice_user, world.alice)
    assert access is not None
    card = make_card(access, Kind.IMMUNIZATIONS)
    assert 0 < len(card.items) < 60 and len(card.items) + len(card.no_room) == 60
    assert len(card.jws) <= cards.MAX_QR_JWS
    assert card.items[0].name == "Vaccine number 59"
    assert card.no_room[0].when < card.items[-1].when
    # The size is computed exactly without signing, and one more would not have fitted.
    _header, signed_payload = verified(card.jws)
    assert cards.signing.signed_length(signed_payload) == len(card.jws)
    bigger = cards.payload(world.alice, card.items + card.no_room[:1], 0)
    assert cards.signing.signed_length(bigger) > cards.MAX_QR_JWS
    version = qr.qr_code(card.jws).version
    assert isinstance(version, int) and 20 <= version <= 22
    page = signed_in(world.alice_user).get(IMMUNIZATIONS).content.decode()
    assert f"{len(card.no_room)} older vaccines did not fit on the card" in page
    assert "Vaccine number 0 (" in page


def test_the_card_page_costs_the_same_queries_however_long_the_history(world: World) -> None:
    client = signed_in(world.alice_user)

    def queries() -> int:
        with captured_queries() as context:
            assert client.get(LABS).status_code == 200
            assert client.get(IMMUNIZATIONS).status_code == 200
        return len(context.captured_queries)

    make_immunization(world.alice)
    make_panel(world.alice)
    queries()  # the first visit also stores the patient chosen in the session
    few = queries()
    for n in range(20):
        make_immunization(world.alice, code=str(100 + n), campus=world.campus)
        make_panel(world.alice, when=days_ago(n + 1))
    assert queries() == few


def test_the_patient_and_a_proxy_with_view_access_get_the_card_audited(record: World) -> None:
    for user, role in ((record.alice_user, "patient"), (record.proxy_user, "proxy")):
        client = signed_in(user)
        assert "Influenza, seasonal" in client.get(IMMUNIZATIONS).content.decode()
        downloaded(client, LABS_FILE)
        for action, items in (("healthcards.immunizations_card", 2), ("healthcards.labs_file", 3)):
            event = AuditEvent.objects.get(action=action, actor_id=user.pk)
            assert (event.kind, event.actor_role, event.patient_id) == ("read", role, record.alice.pk)
            assert event.detail["items"] == items
            assert not describe(action).startswith("accessed your record (")


def test_another_patient_gets_only_their_own_card(record: World) -> None:
    make_immunization(record.bob, "Hepatitis A", code="83")
    client = signed_in(record.bob_user)
    page = client.get(IMMUNIZATIONS).content.decode()
    assert "Hepatitis A" in page and "Influenza" not in page
    _h, payload = verified(downloaded(client, IMMUNIZATIONS_FILE))
    assert resources(payload, "Patient")[0]["name"] == [{"family": "Baker", "given": ["Bob"]}]
    assert not AuditEvent.objects.filter(
        action__startswith="healthcards.", patient_id=record.alice.pk
    ).exists()


def test_those_without_view_access_get_no_card(record: World) -> None:
    urls = [reverse("healthcards:choose"), IMMUNIZATIONS, IMMUNIZATIONS_FILE, LABS, LABS_FILE]
    for url in urls:
        assert Client().get(url)["Location"].startswith(reverse("account_login"))
        assert signed_in(record.unassigned_staff).get(url)["Location"] == reverse("staff:home")
    record.proxy_grant.scopes = [Scope.MESSAGE]
    record.proxy_grant.save()
    proxy = signed_in(record.proxy_user)
    for url in urls:
        response = proxy.get(url)
        assert response.status_code == 403
        assert "Influenza" not in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="healthcards.").exists()


def test_nothing_to_put_on_a_card_says_so(world: World) -> None:
    client = signed_in(world.alice_user)
    page = client.get(IMMUNIZATIONS).content.decode()
    assert "There are no vaccines in your record to put on a card." in page and "<svg" not in page
    assert client.get(IMMUNIZATIONS_FILE)["Location"] == IMMUNIZATIONS
    assert not AuditEvent.objects.filter(action="healthcards.immunizations_file").exists()


def test_a_qr_text_that_is_not_a_card_is_refused() -> None:
    for text in ("https://example.org", "shc:/123", "shc:/12ab"):
        with pytest.raises(ValueError):
            qr.jws_from_qr_text(text)


@pytest.mark.parametrize(
    ("today", "start"),
    [(dt.date(2026, 3, 31), dt.date(2025, 3, 31)), (dt.date(2024, 2, 29), dt.date(2023, 2, 28))],
)
def test_the_lab_window_is_twelve_months(today: dt.date, start: dt.date) -> None:
    assert cards.lab_window_start(today) == start


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_production_needs_a_configured_p256_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORTAL_SHC_PRIVATE_KEY"):
        keys.shc_private_key("", tmp_path, production=True)
    with pytest.raises(ConfigError, match="P-256"):
        keys.shc_private_key(
            _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), tmp_path, production=True
        )
    with pytest.raises(ConfigError, match="P-256"):
        keys.shc_private_key(_pem(ec.generate_private_key(ec.SECP384R1())), tmp_path, production=True)
    with pytest.raises(ConfigError, match="PEM"):
        keys.shc_private_key("not a key", tmp_path, production=True)
    good = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert keys.shc_private_key(good, tmp_path, production=True) == good.strip()


def test_elsewhere_a_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = keys.shc_private_key("", tmp_path, production=False)
    assert keys.shc_private_key("", tmp_path, production=False) == first
    assert (tmp_path / keys.KEY_FILE_NAME).stat().st_mode & 0o077 == 0
