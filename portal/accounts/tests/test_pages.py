"""Every sign-in and account page a user can reach is the portal's own: its layout, no
inline script, nothing left of allauth's unstyled markup, and no server error on junk."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.accounts.tests.helpers import enable_totp, sign_in, sign_in_with_totp, verify_email
from portal.test import World

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>")


def assert_portal_page(response: object, url: str) -> None:
    assert response.status_code == 200, url  # type: ignore[attr-defined]
    page = response.content.decode()  # type: ignore[attr-defined]
    assert '<main id="main"' in page, url
    assert "<h1>" in page or "<h1 " in page, url
    assert not INLINE_SCRIPT.search(page), url
    assert "data-allauth-onload" not in page, url
    assert " on" + "click=" not in page, url


def test_public_pages(client: Client) -> None:
    for url in (
        reverse("account_login"),
        reverse("account_reset_password"),
        reverse("account_reset_password_done"),
        reverse("account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "nonsense"}),
        reverse("account_reset_password_from_key_done"),
        reverse("account_signup"),
        reverse("account_inactive"),
        reverse("account_email_verification_sent"),
        reverse("account_confirm_email", kwargs={"key": "nonsense"}),
        reverse("accounts:forgot_username"),
        reverse("accounts:forgot_username_done"),
    ):
        assert_portal_page(client.get(url), url)


def test_signed_in_pages(world: World) -> None:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    for url in (
        reverse("accounts:security"),
        reverse("accounts:mfa_setup"),
        reverse("account_change_password"),
        reverse("account_email"),
        reverse("account_logout"),
        reverse("account_reauthenticate"),
        reverse("usersessions_list"),
        reverse("mfa_index"),
        reverse("mfa_activate_totp"),
        reverse("mfa_add_webauthn"),
        reverse("mfa_list_webauthn"),
    ):
        assert_portal_page(client.get(url), url)


def test_two_factor_pages(world: World) -> None:
    verify_email(world.alice_user)
    secret = enable_totp(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    assert_portal_page(client.get(reverse("mfa_authenticate")), "mfa_authenticate")
    client = Client()
    sign_in_with_totp(client, world.alice_user, secret)
    for url in (
        reverse("mfa_index"),
        reverse("mfa_deactivate_totp"),
        reverse("mfa_view_recovery_codes"),
        reverse("mfa_generate_recovery_codes"),
        reverse("mfa_reauthenticate"),
        reverse("accounts:mfa_setup"),
        reverse("accounts:security"),
    ):
        assert_portal_page(client.get(url), url)


def test_too_many_requests_has_its_own_page(client: Client) -> None:
    response = client.get("/no-page/")
    from allauth.core.internal.ratelimit import handler429

    page = handler429(response.wsgi_request)
    assert page.status_code == 429
    assert "Too many requests" in page.content.decode()


junk = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=10,
    ).map(json.dumps),
    st.sampled_from(
        [
            '{"id": "x"}',
            '{"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}',
            '{"response": {"userHandle": "%%%"}}',
            '{"response": {"userHandle": "MQ"}}',
        ]
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(credential=junk)
def test_junk_passkey_answers_never_break_the_server(world: World, credential: str) -> None:
    anonymous = Client()
    anonymous.get(reverse("mfa_login_webauthn"), HTTP_ACCEPT="application/json")
    assert anonymous.post(reverse("mfa_login_webauthn"), {"credential": credential}).status_code < 500

    signed_in = Client()
    signed_in.force_login(world.bob_user)
    signed_in.get(reverse("mfa_add_webauthn"))
    response = signed_in.post(reverse("mfa_add_webauthn"), {"name": "key", "credential": credential})
    assert response.status_code < 500


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(login=st.text(max_size=300), password=st.text(max_size=300))
def test_junk_sign_in_attempts_never_break_the_server(world: World, login: str, password: str) -> None:
    response = Client().post(reverse("account_login"), {"login": login, "password": password})
    assert response.status_code in (200, 302, 429)  # 429: allauth's per-address limit


def test_the_admin_signs_in_through_the_portal_sign_in_page(client: Client, world: World) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    client.force_login(world.alice_user)
    assert client.get("/admin/login/").status_code == 403
