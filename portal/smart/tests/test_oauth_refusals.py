"""What the SMART authorization server refuses: bad PKCE, reused codes, wrong redirects, reused refresh tokens."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import Application

from portal.fhir.api.auth import ApiError
from portal.smart.models import AppRegistration, PatientAuthorization
from portal.smart.tests.oauth_support import Launch, api_grant, exchange, get_code, redirect_params, refresh
from portal.smart.tests.support import make_app
from portal.test import World


@pytest.fixture
def alice_client(world: World) -> Client:
    client = Client()
    client.force_login(world.alice_user)
    return client


def test_no_pkce_is_refused(world: World, alice_client: Client) -> None:
    params = redirect_params(alice_client.get(Launch(make_app(), method=None).authorize_url()))
    assert params["error"] == "invalid_request"


def test_plain_pkce_is_refused(world: World, alice_client: Client) -> None:
    launch = Launch(make_app(), method="plain")
    params = redirect_params(alice_client.get(launch.authorize_url()))
    assert params["error"] == "invalid_request" and "S256" in params["error_description"]
    response = alice_client.post(launch.authorize_url(), {"decision": "allow", "keep": "patient/*.rs"})
    assert redirect_params(response)["error"] == "invalid_request"
    assert not PatientAuthorization.objects.exists()


def test_challenge_without_method_counts_as_plain(world: World, alice_client: Client) -> None:
    launch = Launch(make_app(), method=None, extra={"code_challenge": "x" * 43})
    assert redirect_params(alice_client.get(launch.authorize_url()))["error"] == "invalid_request"


def test_wrong_verifier_is_refused(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    code = get_code(alice_client, launch)
    response = exchange(launch, code, verifier="w" * 50)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_reused_code_is_refused(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    code = get_code(alice_client, launch)
    assert exchange(launch, code).status_code == 200
    response = exchange(launch, code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_near_miss_redirect_uri_is_refused_without_redirecting(world: World, alice_client: Client) -> None:
    app = make_app()
    for near in ("http://127.0.0.1:9999/cb/", "http://127.0.0.1:9999/cb?x=1", "http://127.0.0.1:9998/cb"):
        response = alice_client.get(Launch(app, redirect_uri=near).authorize_url())
        assert response.status_code == 400, near
        assert "Location" not in response


def test_token_redirect_uri_must_match_the_code(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    code = get_code(alice_client, launch)
    launch.redirect_uri = "http://127.0.0.1:9999/cb/"
    assert exchange(launch, code).status_code == 400


def test_unknown_client_is_refused(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    url = launch.authorize_url().replace(app.client_id, "no-such-client")
    response = alice_client.get(url)
    assert response.status_code == 400 and "Location" not in response


def test_unapproved_registration_cannot_be_used(world: World, alice_client: Client) -> None:
    app = make_app()
    AppRegistration.objects.create(
        developer=world.bob_user,
        name="Pending",
        description="x",
        homepage="https://example.org",
        redirect_uris=app.redirect_uris,
        client_type="public",
        application=app,
    )
    assert alice_client.get(Launch(app).authorize_url()).status_code == 400
    AppRegistration.objects.filter(application=app).update(status=AppRegistration.Status.APPROVED)
    assert alice_client.get(Launch(app).authorize_url()).status_code == 200


def test_app_owned_by_a_non_staff_user_cannot_be_used(world: World, alice_client: Client) -> None:
    app = make_app()
    Application.objects.filter(pk=app.pk).update(user=world.bob_user)
    assert alice_client.get(Launch(app).authorize_url()).status_code == 400


def test_unknown_scopes_are_refused(world: World, alice_client: Client) -> None:
    launch = Launch(make_app(), scope="launch/patient patient/*.rs system/*.read")
    assert redirect_params(alice_client.get(launch.authorize_url()))["error"] == "invalid_scope"
    launch = Launch(make_app("Other"), scope="launch/patient openid")
    assert redirect_params(alice_client.get(launch.authorize_url()))["error"] == "invalid_scope"


def test_reused_refresh_token_is_refused_and_its_family_revoked(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    first = exchange(launch, get_code(alice_client, launch)).json()
    second = refresh(app, first["refresh_token"]).json()
    reused = refresh(app, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The family is revoked: the newer refresh token fails too.
    assert refresh(app, second["refresh_token"]).status_code == 400


def test_revoked_authorization_ends_codes_tokens_and_refresh(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    body = exchange(launch, get_code(alice_client, launch)).json()
    pending_code = get_code(alice_client, launch)
    PatientAuthorization.objects.update(revoked_at=timezone.now())
    with pytest.raises(ApiError):
        api_grant(body["access_token"])
    assert refresh(app, body["refresh_token"]).status_code == 400
    assert exchange(launch, pending_code).status_code == 400


def test_revocation_endpoint_ends_the_token(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    body = exchange(launch, get_code(alice_client, launch)).json()
    response = Client().post("/oauth/revoke/", {"token": body["access_token"], "client_id": app.client_id})
    assert response.status_code == 200
    with pytest.raises(ApiError):
        api_grant(body["access_token"])


def test_bad_input_never_500s(world: World, alice_client: Client) -> None:
    for url in (
        "/oauth/authorize/",
        "/oauth/authorize/?client_id=%00&response_type=code",
        "/oauth/authorize/?scope=" + "x" * 5000,
    ):
        assert alice_client.get(url).status_code < 500
    assert Client().post("/oauth/token/", {"grant_type": "nonsense"}).status_code == 400
    # NUL reaches no query (PostgreSQL refuses it): a code, a client_id, a token.
    app = make_app()
    nul = {"grant_type": "authorization_code", "code": "a\x00b", "redirect_uri": "http://127.0.0.1:9999/cb"}
    for data in (
        {**nul, "client_id": app.client_id, "code_verifier": "v" * 50},
        {**nul, "client_id": "x\x00y"},
        {"grant_type": "refresh_token", "refresh_token": "r\x00", "client_id": app.client_id},
    ):
        assert 400 <= Client().post("/oauth/token/", data).status_code < 500
    assert Client().post("/oauth/revoke/", {"token": "t\x00", "client_id": "x\x00"}).status_code < 500
    assert Client().post("/oauth/introspect/", {"token": "t\x00", "client_id": "x\x00"}).status_code == 401
    assert Client().post("/oauth/token/", {}).status_code == 400
