"""Two-factor sign-in: authenticator apps, recovery codes, passkey sign-in, and the
organisation setting that sends everyone without a second factor to enrol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.test import Client, override_settings
from django.urls import reverse

from portal.accounts.tests.helpers import enable_totp, sign_in, sign_in_with_totp, totp_code, verify_email
from portal.audit.models import AuditEvent
from portal.test import World

pytestmark = pytest.mark.django_db

require_mfa = override_settings(PORTAL_REQUIRE_MFA=True)
START = dt.datetime(2026, 3, 2, 9, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(world: World) -> Client:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    return client


def test_an_authenticator_app_user_signs_in_with_a_code(world: World, clock: time_machine.Traveller) -> None:
    verify_email(world.alice_user)
    secret = enable_totp(world.alice_user)
    client = Client()
    assert sign_in(client, "alice")["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_login"))
    page = client.get(reverse("mfa_authenticate")).content.decode()
    assert "Code from your authenticator app" in page

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert "There is a problem" in wrong.content.decode()
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})["Location"] == reverse(
        "home"
    )
    event = AuditEvent.objects.get(action="auth.sign_in", outcome="success")
    assert event.detail == {"methods": ["password", "totp"]}


def test_a_recovery_code_signs_in_once(world: World) -> None:
    verify_email(world.alice_user)
    enable_totp(world.alice_user)
    codes = Authenticator.objects.get(user=world.alice_user, type="recovery_codes").wrap().get_unused_codes()
    first = Client()
    sign_in(first, "alice")
    assert first.post(reverse("mfa_authenticate"), {"code": codes[0]})["Location"] == reverse("home")
    second = Client()
    sign_in(second, "alice")
    assert second.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 200


@require_mfa
def test_a_user_without_a_second_factor_is_sent_to_enrol(alice: Client) -> None:
    for url in (reverse("home"), reverse("notifications:list"), reverse("accounts:security")):
        assert alice.get(url)["Location"] == reverse("accounts:mfa_setup")
    page = alice.get(reverse("accounts:mfa_setup")).content.decode()
    assert "Set up two-factor sign-in" in page
    assert reverse("mfa_activate_totp") in page and reverse("mfa_add_webauthn") in page
    for url in (reverse("mfa_activate_totp"), reverse("mfa_add_webauthn")):
        assert alice.get(url).status_code == 200
    assert alice.post(reverse("account_logout"))["Location"] == reverse("account_login")


@require_mfa
def test_htmx_requests_are_redirected_to_enrol_too(alice: Client) -> None:
    response = alice.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("accounts:mfa_setup")


@require_mfa
def test_enrolling_an_authenticator_app_straight_after_signing_in(
    alice: Client, clock: time_machine.Traveller, django_capture_on_commit_callbacks: Any
) -> None:
    page = alice.get(reverse("mfa_activate_totp")).content.decode()
    assert "Scan this QR code" in page
    assert 'src="data:image/svg+xml;base64,' in page
    secret = alice.session[SECRET_SESSION_KEY]
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page

    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    codes_page = alice.get(response["Location"]).content.decode()
    assert codes_page.count("<li><code>") == 10
    assert alice.get(reverse("home")).status_code == 200
    added = AuditEvent.objects.filter(action="auth.authenticator_added").values_list("detail", flat=True)
    assert {"type": "totp"} in list(added)


@require_mfa
def test_the_last_second_factor_cannot_be_turned_off_when_required(world: World) -> None:
    verify_email(world.alice_user)
    secret = enable_totp(world.alice_user)
    client = Client()
    sign_in_with_totp(client, world.alice_user, secret)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 200
    assert "Add a passkey before you turn off" in response.content.decode()
    assert Authenticator.objects.filter(user=world.alice_user, type="totp").exists()


def test_without_the_requirement_nobody_is_sent_to_enrol(alice: Client) -> None:
    assert alice.get(reverse("home")).status_code == 200


def test_the_authenticator_app_entry_names_the_site_and_the_username(world: World) -> None:
    url = get_adapter().build_totp_url(world.alice_user, "JBSWY3DPEHPK3PXP")
    assert url == "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=Patient%20Online%20Services"


def test_the_sign_in_page_offers_a_passkey_and_both_reminders(client: Client) -> None:
    page = client.get(reverse("account_login")).content.decode()
    assert '<label for="id_login">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert ">Sign in</button>" in page
    assert "Sign in with a passkey" in page
    assert f'action="{reverse("mfa_login_webauthn")}"' in page
    assert "js/webauthn.js" in page
    assert reverse("accounts:forgot_username") in page
    assert reverse("account_reset_password") in page


def test_passwordless_sign_in_hands_out_options_for_this_host(client: Client) -> None:
    response = client.get(
        reverse("mfa_login_webauthn"), HTTP_ACCEPT="application/json", HTTP_HOST="localhost:8000"
    )
    options = response.json()["request_options"]["publicKey"]
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "required"


@override_settings(PORTAL_WEBAUTHN_RP_ID="example.org", ALLOWED_HOSTS=["portal.example.org"])
def test_the_relying_party_can_be_a_parent_domain(client: Client) -> None:
    response = client.get(
        reverse("mfa_login_webauthn"), HTTP_ACCEPT="application/json", HTTP_HOST="portal.example.org"
    )
    assert response.json()["request_options"]["publicKey"]["rpId"] == "example.org"


def test_a_garbled_passkey_answer_is_refused_politely(client: Client) -> None:
    client.get(reverse("mfa_login_webauthn"), HTTP_ACCEPT="application/json")
    for credential in ("", "not json", '{"id": "x"}', '{"response": {"userHandle": "%%%"}}'):
        response = client.post(reverse("mfa_login_webauthn"), {"credential": credential})
        assert response.status_code == 302
        assert response["Location"] == reverse("account_login")


def test_the_passkey_form_defaults_to_signing_in_without_a_password(alice: Client) -> None:
    page = alice.get(reverse("mfa_add_webauthn")).content.decode()
    assert "Also use this passkey to sign in without a password" in page
    checkbox = page.split("data-webauthn-passwordless")[1].split(">")[0]
    assert "checked" in checkbox
    assert 'id="webauthn-options" type="application/json"' in page
