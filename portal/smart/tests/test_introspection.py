"""Token introspection (RFC 7662) for confidential apps, answering only about their own tokens."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from portal.patients.models import ProxyGrant
from portal.smart.models import AppRegistration, PatientAuthorization
from portal.smart.tests.oauth_support import Launch, exchange, get_code, refresh
from portal.smart.tests.support import make_app
from portal.smart.tokens import checksum
from portal.smart.validator import fhir_base
from portal.test import World, query_count

URL = "/oauth/introspect/"
SECRET = "a-long-secret-for-the-companion-app"


def confidential(name: str = "Clinic Companion") -> Application:
    app = make_app(name, public=False)
    app.client_secret = SECRET
    app.save()
    return app


def basic(app: Application, secret: str = SECRET) -> dict[str, Any]:
    pair = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def launch_tokens(world: World, app: Application, user: Any = None, **kwargs: Any) -> dict[str, Any]:
    client = Client()
    client.force_login(user or world.alice_user)
    launch = Launch(app, **kwargs)
    response = exchange(launch, get_code(client, launch), secret=SECRET)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def introspect(app: Application, token: str, **extra: str) -> Any:
    return Client().post(URL, {"token": token, **extra}, **basic(app))


def test_an_active_access_token_is_described_as_smart_asks(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    response = introspect(app, body["access_token"])
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    answer = response.json()
    token = AccessToken.objects.get(token_checksum=checksum(body["access_token"]))
    assert answer == {
        "active": True,
        "scope": body["scope"],
        "client_id": app.client_id,
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "patient": f"patient-{world.alice.pk}",
        "token_type": "Bearer",
        "iss": settings.PORTAL_OAUTH_ISSUER,
        "sub": str(world.alice_user.pk),
        "fhirUser": f"{fhir_base()}/Patient/patient-{world.alice.pk}",
    }
    # Nothing about the person beyond the ids: no user name.
    assert "username" not in answer


def test_credentials_in_the_body_work_too(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app, scope="launch/patient patient/Observation.rs")
    response = Client().post(
        URL, {"token": body["access_token"], "client_id": app.client_id, "client_secret": SECRET}
    )
    answer = response.json()
    assert answer["active"] is True and answer["scope"] == "launch/patient patient/Observation.rs"
    # Without openid, no identity claims.
    assert not {"iss", "sub", "fhirUser"} & set(answer)


def test_a_refresh_token_is_described(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    answer = introspect(app, body["refresh_token"], token_type_hint="refresh_token").json()
    assert answer["active"] is True and answer["patient"] == f"patient-{world.alice.pk}"
    assert "token_type" not in answer
    assert answer["exp"] > int((timezone.now() + dt.timedelta(days=80)).timestamp())
    # A hint of the wrong kind is only a hint.
    assert introspect(app, body["access_token"], token_type_hint="refresh_token").json()["active"] is True
    # Rotated away, the old refresh token is inactive and the new one active.
    rotated = refresh(app, body["refresh_token"], secret=SECRET).json()
    assert introspect(app, body["refresh_token"]).json() == {"active": False}
    assert introspect(app, rotated["refresh_token"]).json()["active"] is True


def test_revoked_tokens_are_inactive(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    revoked = Client().post("/oauth/revoke/", {"token": body["access_token"]}, **basic(app))
    assert revoked.status_code == 200
    assert introspect(app, body["access_token"]).json() == {"active": False}
    assert introspect(app, body["refresh_token"]).json() == {"active": False}


def test_a_disconnected_app_or_lapsed_proxy_makes_tokens_inactive(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    PatientAuthorization.objects.update(revoked_at=timezone.now())
    # The token row still exists: the authorization is what says no.
    assert introspect(app, body["access_token"]).json() == {"active": False}

    proxied = launch_tokens(world, app, user=world.proxy_user)
    assert introspect(app, proxied["access_token"]).json()["active"] is True
    ProxyGrant.objects.filter(pk=world.proxy_grant.pk).update(revoked_at=timezone.now())
    assert introspect(app, proxied["access_token"]).json() == {"active": False}
    assert introspect(app, proxied["refresh_token"]).json() == {"active": False}


def test_an_expired_token_is_inactive(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert introspect(app, body["access_token"]).json() == {"active": False}
    # Its refresh token lives on (it may still be exchanged) until its own lifetime ends.
    assert introspect(app, body["refresh_token"]).json()["active"] is True
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(days=91))
    assert introspect(app, body["refresh_token"]).json() == {"active": False}


def test_another_clients_token_is_not_revealed(world: World) -> None:
    app, other = confidential(), confidential("Other Companion")
    body = launch_tokens(world, app)
    for value in (body["access_token"], body["refresh_token"], "no-such-token", "x" * 5000):
        response = introspect(other, value)
        assert response.status_code == 200 and response.json() == {"active": False}


@pytest.mark.parametrize(
    "how", ["public", "wrong secret", "no credentials", "unapproved", "public with body"]
)
def test_callers_that_are_not_authenticated_confidential_clients_are_refused(world: World, how: str) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    token = body["access_token"]
    if how == "public":
        public = make_app("Phone App")
        response = Client().post(URL, {"token": token}, **basic(public, ""))
    elif how == "public with body":
        public = make_app("Phone App")
        response = Client().post(URL, {"token": token, "client_id": public.client_id})
    elif how == "wrong secret":
        response = Client().post(URL, {"token": token}, **basic(app, "not-the-secret"))
    elif how == "no credentials":
        response = Client().post(URL, {"token": token})
    else:
        AppRegistration.objects.create(
            developer=world.bob_user,
            name="Clinic Companion",
            description="x",
            homepage="https://companion.example",
            redirect_uris="http://127.0.0.1:9999/cb",
            client_type=AppRegistration.ClientType.CONFIDENTIAL,
            status=AppRegistration.Status.REJECTED,
            application=app,
        )
        response = introspect(app, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert "active" not in response.json()


def test_bad_requests(world: World) -> None:
    app = confidential()
    assert Client().post(URL, {}, **basic(app)).status_code == 400
    assert Client().get(URL, {"token": "x"}, **basic(app)).status_code == 405
    for junk in ("%00", "\x00", "é" * 50, "Basic !!!"):
        response = Client().post(URL, {"token": junk}, HTTP_AUTHORIZATION=f"Basic {junk}")
        assert response.status_code == 401
    assert Client().post(URL, {"token": "\x00é"}, **basic(app)).status_code == 200
    # A non-ASCII Basic header is no credentials, on the token and revocation endpoints too.
    latin: dict[str, Any] = {"HTTP_AUTHORIZATION": "Basic " + "é" * 8}
    assert Client().post(
        "/oauth/token/", {"grant_type": "refresh_token", "refresh_token": "x"}, **latin
    ).status_code in (400, 401)
    assert Client().post("/oauth/revoke/", {"token": "x"}, **latin).status_code in (200, 401)


def test_discovery_advertises_the_endpoint(world: World) -> None:
    body = Client().get("/fhir/r4/.well-known/smart-configuration").json()
    assert body["introspection_endpoint"] == "http://testserver/oauth/introspect/"


def test_introspection_runs_a_bounded_number_of_queries(world: World) -> None:
    app = confidential()
    body = launch_tokens(world, app)
    assert query_count(lambda: introspect(app, body["access_token"])) <= 8
    assert query_count(lambda: introspect(app, body["refresh_token"])) <= 10
