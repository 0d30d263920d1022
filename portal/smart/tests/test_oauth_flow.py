"""SMART standalone patient launch, end to end: consent, code, token, the API accepting it."""

from __future__ import annotations

import jwt
import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from portal.audit.models import AuditEvent
from portal.smart.models import GrantBinding, PatientAuthorization, TokenBinding
from portal.smart.tests.oauth_support import Launch, allow, api_grant, exchange, get_code, refresh
from portal.smart.tests.support import make_app
from portal.test import World, make_patient


@pytest.fixture
def alice_client(world: World) -> Client:
    client = Client()
    client.force_login(world.alice_user)
    return client


def test_full_standalone_launch_binds_the_token_to_the_patient(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    page = alice_client.get(launch.authorize_url())
    assert page.status_code == 200
    assert b"Health Tracker" in page.content and b"everything in your record" in page.content
    code = get_code(alice_client, launch)

    response = exchange(launch, code)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"] == f"patient-{world.alice.pk}"
    assert set(body["scope"].split()) == {
        "launch/patient",
        "openid",
        "fhirUser",
        "offline_access",
        "patient/*.rs",
    }
    assert body["token_type"] == "Bearer" and body["refresh_token"]

    authorization = PatientAuthorization.objects.get()
    assert (authorization.application, authorization.user, authorization.patient) == (
        app,
        world.alice_user,
        world.alice,
    )
    token = AccessToken.objects.get()
    assert TokenBinding.objects.get(access_token=token).authorization == authorization
    grant = api_grant(body["access_token"])
    assert grant.patient == world.alice and grant.allows("Observation", "search")

    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["fhirUser"].endswith(f"/fhir/r4/Patient/patient-{world.alice.pk}")
    assert claims["aud"] == app.client_id

    event = AuditEvent.objects.get(action="smart.authorize")
    assert event.patient_id == world.alice.pk and event.detail["app"] == "Health Tracker"


def test_code_is_bound_and_consumed(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    code = get_code(alice_client, launch)
    assert GrantBinding.objects.get().authorization == PatientAuthorization.objects.get()
    assert exchange(launch, code).status_code == 200
    assert not Grant.objects.exists()


def test_no_refresh_token_without_offline_access(world: World, alice_client: Client) -> None:
    launch = Launch(make_app(), scope="launch/patient patient/Observation.rs")
    body = exchange(launch, get_code(alice_client, launch)).json()
    assert "refresh_token" not in body and "id_token" not in body
    assert not RefreshToken.objects.exists()


def test_refresh_keeps_the_binding_and_rotates(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    first = exchange(launch, get_code(alice_client, launch)).json()
    second = refresh(app, first["refresh_token"])
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["patient"] == f"patient-{world.alice.pk}"
    assert body["refresh_token"] != first["refresh_token"]
    authorization = PatientAuthorization.objects.get()
    assert api_grant(body["access_token"]).authorization == authorization
    assert TokenBinding.objects.filter(authorization=authorization).count() >= 1


def test_confidential_client_authenticates_with_its_secret(world: World, alice_client: Client) -> None:
    app = make_app("Clinic Companion", public=False)
    app.client_secret = "a-very-secret-secret-for-tests"
    app.save()
    launch = Launch(app)
    code = get_code(alice_client, launch)
    assert exchange(launch, code, secret="wrong").status_code == 401
    code = get_code(alice_client, launch)
    response = exchange(launch, code, secret="a-very-secret-secret-for-tests")
    assert response.status_code == 200, response.content


def test_narrowing_on_the_consent_screen_reduces_the_scope(world: World, alice_client: Client) -> None:
    launch = Launch(
        make_app(), scope="launch/patient patient/Observation.rs patient/Condition.read offline_access"
    )
    code = get_code(alice_client, launch, keep=["patient/Observation.rs"])
    body = exchange(launch, code).json()
    assert body["scope"] == "launch/patient patient/Observation.rs"
    assert "refresh_token" not in body
    grant = api_grant(body["access_token"])
    assert grant.allows("Observation", "read") and not grant.allows("Condition", "read")
    assert PatientAuthorization.objects.get().scopes == "launch/patient patient/Observation.rs"


def test_nothing_kept_is_asked_again(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    response = allow(alice_client, launch, keep=["openid"])
    assert response.status_code == 400
    assert not PatientAuthorization.objects.exists()


def test_a_proxy_chooses_which_patient(world: World) -> None:
    # The proxy is also a patient: two records to choose between.
    make_patient("P-0099", "Pat", "Proxy", world.campus, account=world.proxy_user)
    client = Client()
    client.force_login(world.proxy_user)
    launch = Launch(make_app())
    page = client.get(launch.authorize_url())
    assert len(page.context["patients"]) == 2 and b"Alice" in page.content
    refused = client.post(
        launch.authorize_url(), {"decision": "allow", "keep": "patient/*.rs", "patient": world.bob.pk}
    )
    assert refused.status_code == 400
    body = exchange(launch, get_code(client, launch, patient=world.alice.pk)).json()
    assert body["patient"] == f"patient-{world.alice.pk}"
    assert api_grant(body["access_token"]).patient == world.alice
    authorization = PatientAuthorization.objects.get()
    assert authorization.user == world.proxy_user
    assert AuditEvent.objects.get(action="smart.authorize").actor_role == "proxy"


def test_token_reads_only_the_chosen_patient(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    body = exchange(launch, get_code(alice_client, launch)).json()
    assert api_grant(body["access_token"]).patient != world.bob


def test_deny_sends_access_denied(world: World, alice_client: Client) -> None:
    launch = Launch(make_app())
    alice_client.get(launch.authorize_url())
    response = alice_client.post(launch.authorize_url(), {"decision": "deny"})
    assert response.status_code == 302 and "error=access_denied" in response["Location"]
    assert f"state={launch.state}" in response["Location"]
    assert not PatientAuthorization.objects.exists()


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    response = Client().get(Launch(make_app()).authorize_url())
    assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_staff_without_a_record_cannot_connect(world: World) -> None:
    client = Client()
    client.force_login(world.clinician)
    launch = Launch(make_app())
    assert client.get(launch.authorize_url()).status_code == 403
    response = client.post(launch.authorize_url(), {"decision": "allow", "keep": "patient/*.rs"})
    assert response.status_code == 302 and "error=access_denied" in response["Location"]


def test_smart_configuration(world: World) -> None:
    body = Client().get("/oauth/.well-known/smart-configuration").json()
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_endpoint"] == "http://testserver/oauth/authorize/"
    assert body["token_endpoint"] == "http://testserver/oauth/token/"
    assert {"launch-standalone", "permission-v2", "sso-openid-connect"} <= set(body["capabilities"])
    keys = Client().get(body["jwks_uri"].removeprefix("http://testserver")).json()
    assert keys["keys"][0]["kty"] == "RSA"


def test_query_counts_are_bounded(
    world: World, alice_client: Client, django_assert_max_num_queries: object
) -> None:
    launch = Launch(make_app())
    with django_assert_max_num_queries(25):  # type: ignore[operator]
        assert alice_client.get(launch.authorize_url()).status_code == 200
    with django_assert_max_num_queries(40):  # type: ignore[operator]
        code = get_code(alice_client, launch)
    # Most of the exchange's queries are django-oauth-toolkit's own (it reloads the grant).
    with django_assert_max_num_queries(30):  # type: ignore[operator]
        assert exchange(launch, code).status_code == 200
