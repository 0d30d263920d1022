"""Hashed token storage: after a real launch the database holds no token an attacker could present."""

from __future__ import annotations

import importlib

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from portal.smart.tests.oauth_support import Launch, api_grant, exchange, get_code, refresh
from portal.smart.tests.support import add_refresh_token, issue_token, make_app
from portal.smart.tokens import checksum
from portal.test import World


@pytest.fixture
def alice_client(world: World) -> Client:
    client = Client()
    client.force_login(world.alice_user)
    return client


def _every_stored_value() -> str:
    """Every text value in the token tables, joined, as a dump of the database would show them."""
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in (AccessToken._meta.db_table, RefreshToken._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names from the models
            rows.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(rows)


def test_a_launch_stores_only_checksums(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    body = exchange(launch, get_code(alice_client, launch)).json()
    access, refresh_value = body["access_token"], body["refresh_token"]

    stored = _every_stored_value()
    assert access not in stored and refresh_value not in stored
    token = AccessToken.objects.get()
    assert token.token == "" and token.token_checksum == checksum(access)
    assert RefreshToken.objects.get().token == ""
    assert RefreshToken.objects.get().token_checksum == checksum(refresh_value)
    # The API still accepts the token it no longer stores.
    assert api_grant(access).patient == world.alice
    response = Client().get(
        f"/fhir/r4/Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {access}"
    )
    assert response.status_code == 200
    # A value equal to the stored checksum is not a token.
    forged = Client().get(
        f"/fhir/r4/Patient/patient-{world.alice.pk}",
        HTTP_AUTHORIZATION=f"Bearer {token.token_checksum}",
    )
    assert forged.status_code == 401


def test_rotation_stores_checksums_and_still_detects_reuse(world: World, alice_client: Client) -> None:
    app = make_app()
    launch = Launch(app)
    first = exchange(launch, get_code(alice_client, launch)).json()
    second = refresh(app, first["refresh_token"])
    assert second.status_code == 200, second.content
    rotated = second.json()
    assert api_grant(rotated["access_token"]).patient == world.alice
    stored = _every_stored_value()
    for value in (
        first["access_token"],
        first["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ):
        assert value not in stored
    assert not AccessToken.objects.exclude(token="").exists()
    assert not RefreshToken.objects.exclude(token="").exists()

    reused = refresh(app, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # Reuse revokes the whole family: the newest refresh token and its access token die too.
    assert refresh(app, rotated["refresh_token"]).status_code == 400
    api = Client().get(
        f"/fhir/r4/Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {rotated['access_token']}"
    )
    assert api.status_code == 401


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", ""])
def test_revocation_endpoint_finds_hashed_tokens(world: World, alice_client: Client, hint: str) -> None:
    app = make_app()
    launch = Launch(app)
    body = exchange(launch, get_code(alice_client, launch)).json()
    value = body["refresh_token"] if hint == "refresh_token" else body["access_token"]
    data = {"token": value, "client_id": app.client_id}
    if hint:
        data["token_type_hint"] = hint
    assert Client().post("/oauth/revoke/", data).status_code == 200
    # Revoking either ends both: the access token is deleted, the refresh token revoked.
    assert not AccessToken.objects.exists()
    assert RefreshToken.objects.get().revoked is not None
    api = Client().get(
        f"/fhir/r4/Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    )
    assert api.status_code == 401
    assert refresh(app, body["refresh_token"]).status_code == 400


def test_another_clients_revocation_changes_nothing(world: World, alice_client: Client) -> None:
    app, other = make_app(), make_app("Other")
    launch = Launch(app)
    body = exchange(launch, get_code(alice_client, launch)).json()
    response = Client().post("/oauth/revoke/", {"token": body["access_token"], "client_id": other.client_id})
    assert response.status_code == 200
    assert api_grant(body["access_token"]).patient == world.alice


def test_test_tokens_are_stored_as_the_toolkit_stores_them(world: World) -> None:
    value = issue_token(world.alice_user, world.alice)
    assert not AccessToken.objects.filter(token=value).exists()
    assert AccessToken.objects.get(token_checksum=checksum(value)).token == ""


def test_no_migration_is_needed_and_the_warning_is_not_silenced(world: World) -> None:
    from django.conf import settings
    from django.core import checks

    assert "oauth2_provider.W006" not in settings.SILENCED_SYSTEM_CHECKS
    messages = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert not [
        message for message in messages if message.id in ("oauth2_provider.W006", "oauth2_provider.E001")
    ]
    call_command("makemigrations", "smart", "oauth2_provider", check=True, dry_run=True, verbosity=0)


def test_the_migration_blanks_tokens_stored_before_hashing(world: World) -> None:
    from django.apps import apps

    redact = importlib.import_module("portal.smart.migrations.0002_redact_plaintext_tokens")
    access_value = issue_token(world.alice_user, world.alice)
    token = AccessToken.objects.get(token_checksum=checksum(access_value))
    # As a row written before hashed storage: the plaintext beside its checksum.
    AccessToken.objects.filter(pk=token.pk).update(token=access_value)
    refresh_value = add_refresh_token(token)
    RefreshToken.objects.update(token=refresh_value)
    # A row whose checksum does not match is left alone rather than made unusable.
    odd = issue_token(world.alice_user, world.alice)
    AccessToken.objects.filter(token_checksum=checksum(odd)).update(token="something-else")

    redact.forwards(apps, None)

    assert AccessToken.objects.get(pk=token.pk).token == ""
    assert RefreshToken.objects.get().token == ""
    assert AccessToken.objects.get(token_checksum=checksum(odd)).token == "something-else"
    assert api_grant(access_value).patient == world.alice
