"""Connected apps: who sees which app, disconnecting one, and the token dying with it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import Application, RefreshToken

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.fhir.api.auth import ApiError, authenticate
from portal.patients.models import Scope
from portal.smart.models import AppRegistration, PatientAuthorization
from portal.smart.tests.support import add_refresh_token, issue_token, make_app, stored_access_token
from portal.smart.tokens import checksum
from portal.test import World, query_count

LIST = reverse("connected_apps:list")


def _registered_app(world: World, name: str = "Step Counter") -> Application:
    app = make_app(name)
    AppRegistration.objects.create(
        developer=world.bob_user,
        name=name,
        description="Counts steps.",
        homepage="https://steps.example",
        redirect_uris="http://127.0.0.1:9999/cb",
        client_type=AppRegistration.ClientType.PUBLIC,
        status=AppRegistration.Status.APPROVED,
        application=app,
    )
    return app


def _connect(
    world: World, user: User | None = None, scope: str = "launch/patient patient/Observation.rs"
) -> tuple[str, PatientAuthorization]:
    token = issue_token(user or world.alice_user, world.alice, scope, app=_registered_app(world))
    authorization = PatientAuthorization.objects.latest("id")
    return token, authorization


def _bearer(token: str) -> object:
    return RequestFactory().get("/fhir/r4/Patient", HTTP_AUTHORIZATION=f"Bearer {token}")


def _client(world: World, persona: str) -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_it_lists_the_apps_connected_to_alice(world: World, persona: str) -> None:
    _connect(world)
    _connect(world, user=world.proxy_user)
    response = _client(world, persona).get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("Step Counter") >= 2
    assert "https://steps.example" in body
    assert "your lab results and vital signs" in body
    assert "Pat Able" in body or "Alice Able" in body
    assert "You" in body


def test_a_proxy_without_the_view_scope_is_refused(world: World) -> None:
    _connect(world)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    response = _client(world, "proxy").get(LIST)
    assert response.status_code == 403
    assert b"Step Counter" not in response.content


def test_another_patient_never_sees_alices_apps(world: World) -> None:
    _connect(world)
    response = _client(world, "other_patient").get(LIST)
    assert response.status_code == 200
    assert b"Step Counter" not in response.content
    assert b"No apps are connected" in response.content


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    response = Client().get(LIST)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_staff_without_a_record_go_to_the_workspace(world: World) -> None:
    response = _client(world, "admin").get(LIST)
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:home")


def test_empty_state_explains_connecting(world: World) -> None:
    response = _client(world, "patient").get(LIST)
    assert b"docs/api.md" in response.content
    assert reverse("developers:home").encode() in response.content


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_disconnecting_ends_the_token_at_once(world: World, persona: str) -> None:
    token, authorization = _connect(world)
    refresh = RefreshToken.objects.get(token_checksum=checksum(add_refresh_token(stored_access_token(token))))
    assert authenticate(_bearer(token)).patient == world.alice  # type: ignore[arg-type]
    client = _client(world, persona)
    url = reverse("connected_apps:disconnect", args=[authorization.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Disconnect the app" in confirm.content
    response = client.post(url)
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.revoked_at is not None
    with pytest.raises(ApiError) as refused:
        authenticate(_bearer(token))  # type: ignore[arg-type]
    assert refused.value.status == 401
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    event = AuditEvent.objects.get(action="smart.revoke")
    assert event.patient_id == world.alice.pk
    page = client.get(LIST).content.decode()
    assert "Disconnected apps" in page


def test_disconnecting_twice_changes_nothing(world: World) -> None:
    _token, authorization = _connect(world)
    client = _client(world, "patient")
    url = reverse("connected_apps:disconnect", args=[authorization.pk])
    client.post(url)
    assert client.post(url).status_code == 302
    assert AuditEvent.objects.filter(action="smart.revoke").count() == 1


@pytest.mark.parametrize("persona", ["other_patient", "clinician", "admin"])
def test_someone_elses_authorization_is_a_404(world: World, persona: str) -> None:
    token, authorization = _connect(world)
    client = _client(world, persona)
    url = reverse("connected_apps:disconnect", args=[authorization.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert client.post(reverse("connected_apps:disconnect", args=[999999])).status_code == 404
    authorization.refresh_from_db()
    assert authorization.revoked_at is None
    assert authenticate(_bearer(token)).patient == world.alice  # type: ignore[arg-type]


def test_a_proxy_without_view_cannot_disconnect(world: World) -> None:
    _token, authorization = _connect(world)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    response = _client(world, "proxy").post(reverse("connected_apps:disconnect", args=[authorization.pk]))
    assert response.status_code == 404
    authorization.refresh_from_db()
    assert authorization.revoked_at is None


def test_anonymous_cannot_disconnect(world: World) -> None:
    _token, authorization = _connect(world)
    response = Client().post(reverse("connected_apps:disconnect", args=[authorization.pk]))
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert authorization.revoked_at is None


def test_old_disconnections_drop_off(world: World) -> None:
    _token, authorization = _connect(world)
    PatientAuthorization.objects.filter(pk=authorization.pk).update(
        revoked_at=timezone.now() - dt.timedelta(days=91)
    )
    response = _client(world, "patient").get(LIST)
    assert b"Step Counter" not in response.content


def test_the_list_runs_a_bounded_number_of_queries(world: World) -> None:
    _connect(world)
    client = _client(world, "patient")
    client.get(LIST)
    small = query_count(lambda: client.get(LIST))
    for _ in range(5):
        _connect(world)
    _token, authorization = _connect(world)
    client.post(reverse("connected_apps:disconnect", args=[authorization.pk]))
    assert query_count(lambda: client.get(LIST)) == small
