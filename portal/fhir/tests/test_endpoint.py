"""POST /interfaces/import: bearer tokens, status codes, limits and the audit trail."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.fhir.clients import do_create_interface_client, token_digest
from portal.fhir.models import InterfaceClient
from portal.fhir.tests.conftest import alice_bundle, row_counts
from portal.test import World

URL = "/interfaces/import"


@pytest.fixture
def token(world: World) -> str:
    _client, secret = do_create_interface_client(Actor.system(), "lab-engine")
    return secret


def post(client: Client, body: bytes, token: str | None = None, **extra: Any) -> Any:
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(URL, body, content_type="application/fhir+json", **headers, **extra)


def test_the_url_has_its_name() -> None:
    assert reverse("interfaces:import") == URL


def test_a_good_token_imports_and_answers_201_then_200(client: Client, world: World, token: str) -> None:
    response = post(client, alice_bundle(), token, QUERY_STRING="name=alice.json")
    assert response.status_code == 201
    body = response.json()
    assert body["accepted"] and body["patients"]["10000001"]["Observation"]["created"] == 8
    assert body["name"] == "alice.json"
    again = post(client, alice_bundle(), token)
    assert again.status_code == 200 and again.json()["already_imported"]
    used = InterfaceClient.objects.get(name="lab-engine")
    assert used.last_used_at is not None
    events = AuditEvent.objects.filter(action="interfaces.import")
    assert [event.detail["status"] for event in events] == [201, 200]
    imported = AuditEvent.objects.get(action="records.imported")
    assert imported.patient_id == world.alice.pk and imported.detail["submitted_by"] == "interface:lab-engine"


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc", "Bearer ", "Token x"])
def test_a_missing_or_bad_token_is_401(client: Client, world: World, token: str, header: str | None) -> None:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    before = row_counts()
    response = client.post(URL, alice_bundle(), content_type="application/json", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["resourceType"] == "OperationOutcome"
    assert row_counts() == before
    assert AuditEvent.objects.filter(action="interfaces.import", outcome="denied").count() == 1


def test_a_revoked_token_is_401(client: Client, world: World, token: str) -> None:
    out = StringIO()
    call_command("interface_token", "--revoke", "lab-engine", stdout=out)
    assert "Revoked" in out.getvalue()
    assert post(client, alice_bundle(), token).status_code == 401


def test_a_malformed_file_is_400_with_every_problem(client: Client, world: World, token: str) -> None:
    document = json.loads(alice_bundle())
    document["entry"][4]["resource"]["status"] = "done"
    document["entry"][5]["resource"]["effectiveDateTime"] = "soon"
    before = row_counts()
    response = post(client, json.dumps(document).encode(), token)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert sorted(issue["location"][0] for issue in outcome["issue"]) == [
        "entry 4 (Observation) status",
        "entry 5 (Observation) effectiveDateTime",
    ]
    assert all(issue["severity"] == "error" for issue in outcome["issue"])
    assert row_counts() == before
    garbage = post(client, b"\x00\xffnot a file", token)
    assert garbage.status_code == 400
    assert post(client, b"", token).status_code == 400


def test_a_huge_body_is_413(client: Client, world: World, token: str, settings: Any) -> None:
    settings.PORTAL_IMPORT_MAX_BYTES = 1000
    response = post(client, b"{" + b" " * 2000 + b"}", token)
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"
    # Over Django's own form-body limit but under ours: still read and imported.
    settings.PORTAL_IMPORT_MAX_BYTES = 20 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert post(client, alice_bundle(), token).status_code == 201


def test_get_is_405(client: Client, world: World, token: str) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_the_token_command_prints_the_token_once(world: World) -> None:
    out = StringIO()
    call_command("interface_token", "radiology", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    client = InterfaceClient.objects.get(name="radiology")
    assert client.token_digest == token_digest(token) and token not in client.token_digest
    with pytest.raises(CommandError):
        call_command("interface_token", "radiology", stdout=StringIO())
    rotated = StringIO()
    call_command("interface_token", "radiology", "--rotate", stdout=rotated)
    assert rotated.getvalue().strip().splitlines()[-1] != token
    with pytest.raises(CommandError):
        call_command("interface_token", "--revoke", "nobody", stdout=StringIO())
