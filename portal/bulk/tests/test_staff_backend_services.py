"""Administrators register backend services and patient groups; nobody else sees the pages."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwk

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.bulk import actions
from portal.bulk.backend_auth import PRIVATE_MEMBERS
from portal.bulk.models import BackendService, PatientGroup, SystemToken
from portal.bulk.tests.support import issue_system_token, make_service
from portal.organization.models import CareTeam, Practitioner
from portal.test import World, make_staff, query_count

LIST = reverse("staff_bulk:list")
REGISTER = reverse("staff_bulk:register")
NEW_GROUP = reverse("staff_bulk:new_group")


@cache
def public_jwks() -> str:
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1")
    ec = jwk.JWK.generate(kty="EC", crv="P-384", kid="ec-1")
    return json.dumps({"keys": [json.loads(rsa.export_public()), json.loads(ec.export_public())]})


@cache
def private_jwks() -> str:
    return json.dumps(
        {"keys": [json.loads(jwk.JWK.generate(kty="EC", crv="P-256", kid="oops").export_private())]}
    )


@cache
def short_rsa_jwks() -> str:
    key = jwk.JWK.generate(kty="RSA", size=1024, kid="weak")
    return json.dumps({"keys": [json.loads(key.export_public())]})


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _group(world: World, name: str = "Rochester patients") -> PatientGroup:
    return PatientGroup.objects.create(name=name, campus=world.campus)


def _registration(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Population Health",
        "description": "Quality measures.",
        "resource_types": ["Observation", "Condition"],
        "all_patients": "no",
        "groups": [_group(world).pk],
        "jwks": public_jwks(),
    } | changes


# Who sees the pages --------------------------------------------------------------------


def test_administrators_see_services_and_groups(world: World) -> None:
    service = make_service()
    _group(world)
    administrator = make_staff("ada", Practitioner.Role.ADMINISTRATOR)
    for user in (world.admin, administrator):
        response = _client(user).get(LIST)
        assert response.status_code == 200
        assert service.client_id.encode() in response.content
        assert b"Rochester patients" in response.content
        assert f'href="{LIST}"'.encode() in response.content  # the workspace's nav link


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff", "patient", "proxy"])
def test_everyone_else_gets_a_404(world: World, persona: str) -> None:
    service = make_service()
    group = _group(world)
    client = _client(world.persona(persona))
    for url in (
        LIST,
        REGISTER,
        NEW_GROUP,
        reverse("staff_bulk:service", args=[service.pk]),
        reverse("staff_bulk:group", args=[group.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("staff_bulk:suspend", args=[service.pk])).status_code == 404
    assert client.post(REGISTER, _registration(world)).status_code == 404
    service.refresh_from_db()
    assert service.is_active
    assert BackendService.objects.count() == 1
    assert f'href="{LIST}"'.encode() not in client.get("/staff/").content


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    service = make_service()
    for url in (LIST, REGISTER, reverse("staff_bulk:service", args=[service.pk])):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert Client().post(reverse("staff_bulk:suspend", args=[service.pk])).status_code == 302
    service.refresh_from_db()
    assert service.is_active


def test_a_missing_service_or_group_is_a_404(world: World) -> None:
    client = _client(world.admin)
    assert client.get(reverse("staff_bulk:service", args=[999])).status_code == 404
    assert client.get(reverse("staff_bulk:group", args=[999])).status_code == 404
    assert client.post(reverse("staff_bulk:suspend", args=[999])).status_code == 404


def test_the_list_runs_a_bounded_number_of_queries(world: World) -> None:
    client = _client(world.admin)
    groups = [_group(world, f"Group {number}") for number in range(3)]
    make_service("First", groups=groups)
    client.get(LIST)  # the first request of a session loads more (the session, the user)
    baseline = query_count(lambda: client.get(LIST))
    for number in range(10):
        make_service(f"Service {number}", groups=groups)
        _group(world, f"More {number}")
    assert query_count(lambda: client.get(LIST)) == baseline


# Registering and changing a service ----------------------------------------------------


def test_registering_a_service(world: World) -> None:
    response = _client(world.admin).post(REGISTER, _registration(world))
    service = BackendService.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("staff_bulk:service", args=[service.pk])
    assert service.name == "Population Health"
    assert service.scopes == "system/Observation.read system/Condition.read"
    assert not service.all_patients
    assert [group.name for group in service.groups.all()] == ["Rochester patients"]
    assert [key["kid"] for key in service.jwks["keys"]] == ["rsa-1", "ec-1"]
    assert service.created_by == world.admin
    page = _client(world.admin).get(response["Location"])
    assert service.client_id.encode() in page.content
    assert b"http://testserver/oauth/token/" in page.content
    event = AuditEvent.objects.get(action="bulk.service_registered")
    assert event.patient_id is None
    assert event.detail["kids"] == ["rsa-1", "ec-1"]


def test_every_resource_type_and_every_patient(world: World) -> None:
    data = _registration(world, resource_types=["*", "Observation"], all_patients="yes", groups=[])
    assert _client(world.admin).post(REGISTER, data).status_code == 302
    service = BackendService.objects.get()
    assert service.scopes == "system/*.read"
    assert service.all_patients


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"jwks": private_jwks()}, b"private key material"),
        ({"jwks": "not json"}, b"not valid JSON"),
        ({"jwks": json.dumps({"keys": []})}, b"non-empty"),
        ({"jwks": json.dumps([1, 2])}, b"non-empty"),
        (
            {"jwks": json.dumps({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]})},
            b"private key material",
        ),
        ({"jwks": json.dumps({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]})}, b"needs a kid"),
        (
            {"jwks": json.dumps({"keys": [{"kty": "RSA", "kid": "nul\u0000", "n": "AQAB", "e": "AQAB"}]})},
            b"needs a kid",
        ),
        (
            {"jwks": json.dumps({"keys": [{"kty": "RSA", "kid": "a", "n": "\u0000", "e": "AQAB"}]})},
            b"Key 1 is",
        ),
        ({"jwks": short_rsa_jwks()}, b"shorter than 2048 bits"),
        ({"jwks": json.dumps({"keys": [{"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"}]})}, b"Key 1 is"),
        (
            {"jwks": json.dumps({"keys": [{"kty": "EC", "kid": "a", "crv": "P-384", "x": "AA", "y": "AA"}]})},
            b"not a valid public key",
        ),
        (
            {"jwks": json.dumps({"keys": [{"kty": "EC", "kid": "a", "crv": "P-521", "x": "AA", "y": "AA"}]})},
            b"P-256 or P-384",
        ),
        ({"jwks": json.dumps({"keys": ["x"] * 11})}, b"at most 10"),
        ({"jwks": json.dumps({"keys": [{"pad": "x" * 21000}]})}, b"larger than 20 KB"),
        ({"jwks": "[" * 10001 + "]" * 10001}, b"larger than 20 KB"),
        ({"jwks": "[" * 5000 + "]" * 5000}, b"not valid JSON"),
        ({"resource_types": []}, b"Choose at least one resource type"),
        ({"resource_types": ["Spaceship"]}, b"Select a valid choice"),
        ({"groups": []}, b"Choose at least one group"),
        ({"groups": ["999"]}, b"Select a valid choice"),
        ({"name": "   "}, b"This field is required"),
        ({"all_patients": "maybe"}, b"Select a valid choice"),
    ],
)
def test_bad_registrations_are_refused_and_change_nothing(
    world: World, changes: dict[str, Any], message: bytes
) -> None:
    response = _client(world.admin).post(REGISTER, _registration(world, **changes))
    assert response.status_code == 400
    assert message in response.content, response.content.decode()[:3000]
    assert not BackendService.objects.exists()
    assert not AuditEvent.objects.filter(action="bulk.service_registered").exists()


def test_duplicate_key_ids_are_refused(world: World) -> None:
    keys = json.loads(public_jwks())["keys"]
    duplicated = json.dumps({"keys": [keys[0], keys[0]]})
    response = _client(world.admin).post(REGISTER, _registration(world, jwks=duplicated))
    assert response.status_code == 400
    assert b"share a kid" in response.content


def test_only_public_members_are_stored(world: World) -> None:
    key = json.loads(public_jwks())["keys"][0] | {"x5u": "https://example.org/cert", "note": "hi"}
    response = _client(world.admin).post(REGISTER, _registration(world, jwks=json.dumps({"keys": [key]})))
    assert response.status_code == 302
    assert set(BackendService.objects.get().jwks["keys"][0]) == {"kty", "kid", "n", "e"}


def test_changing_what_a_service_may_export(world: World) -> None:
    service = make_service()
    group = _group(world)
    url = reverse("staff_bulk:service", args=[service.pk])
    page = _client(world.admin).get(url)
    assert page.status_code == 200
    data = {
        "name": "Renamed",
        "description": "",
        "resource_types": ["Patient"],
        "all_patients": "no",
        "groups": [group.pk],
    }
    assert _client(world.admin).post(url, data).status_code == 302
    service.refresh_from_db()
    assert (service.name, service.scopes) == ("Renamed", "system/Patient.read")
    assert list(service.groups.all()) == [group]
    assert AuditEvent.objects.filter(action="bulk.service_changed", object_id=str(service.pk)).exists()
    bad = _client(world.admin).post(url, data | {"resource_types": []})
    assert bad.status_code == 400
    service.refresh_from_db()
    assert service.scopes == "system/Patient.read"


def test_replacing_the_keys(world: World) -> None:
    service = make_service()
    url = reverse("staff_bulk:keys", args=[service.pk])
    assert _client(world.admin).post(url, {"jwks": public_jwks()}).status_code == 302
    service.refresh_from_db()
    assert [key["kid"] for key in service.jwks["keys"]] == ["rsa-1", "ec-1"]
    event = AuditEvent.objects.get(action="bulk.service_keys_replaced")
    assert event.detail["kids_before"] == [] and event.detail["kids"] == ["rsa-1", "ec-1"]
    refused = _client(world.admin).post(url, {"jwks": private_jwks()})
    assert refused.status_code == 400
    assert b"private key material" in refused.content
    service.refresh_from_db()
    assert not any(PRIVATE_MEMBERS & key.keys() for key in service.jwks["keys"])
    assert [key["kid"] for key in service.jwks["keys"]] == ["rsa-1", "ec-1"]
    assert _client(world.admin).get(url).status_code == 405


def test_suspending_stops_tokens_at_once_and_reinstating_does_not_revive_them(world: World) -> None:
    service = make_service()
    token = issue_system_token(service)
    assert _client(world.admin).post(reverse("staff_bulk:suspend", args=[service.pk])).status_code == 302
    service.refresh_from_db()
    assert not service.is_active
    assert not SystemToken.objects.filter(service=service, expires_at__gt=timezone.now()).exists()
    event = AuditEvent.objects.get(action="bulk.service_suspended")
    assert event.detail["tokens"] == 1
    again = _client(world.admin).post(reverse("staff_bulk:suspend", args=[service.pk]))
    assert again.status_code == 409
    assert _client(world.admin).post(reverse("staff_bulk:reinstate", args=[service.pk])).status_code == 302
    service.refresh_from_db()
    assert service.is_active
    from django.test import RequestFactory

    from portal.bulk.auth import authenticate_system
    from portal.fhir.api.auth import ApiError

    request = RequestFactory().get("/fhir/r4/$export", HTTP_AUTHORIZATION=f"Bearer {token}")
    with pytest.raises(ApiError):
        authenticate_system(request)


def test_actions_refuse_anyone_but_an_administrator(world: World) -> None:
    service = make_service()
    for user in (world.clinician, world.alice_user, None):
        with pytest.raises(actions.BulkRefused):
            actions.do_suspend_service(Actor(user=user), service)
        with pytest.raises(actions.BulkRefused):
            actions.do_create_group(
                Actor(user=user), name="x", description="", campus=world.campus, care_team=None
            )
    service.refresh_from_db()
    assert service.is_active


# Patient groups ------------------------------------------------------------------------


def test_creating_a_group_and_seeing_its_members(world: World) -> None:
    data = {
        "name": "Family medicine",
        "description": "",
        "campus": world.campus.pk,
        "care_team": world.care_team.pk,
    }
    response = _client(world.admin).post(NEW_GROUP, data)
    group = PatientGroup.objects.get()
    assert response.status_code == 302
    assert (group.campus, group.care_team, group.created_by) == (world.campus, world.care_team, world.admin)
    page = _client(world.admin).get(reverse("staff_bulk:group", args=[group.pk]))
    assert page.status_code == 200
    # Alice is in the team's care at the campus; Bob is only at the campus.
    assert page.context["member_count"] == 1
    assert AuditEvent.objects.filter(action="bulk.group_created", patient_id__isnull=True).exists()


def test_changing_a_group(world: World) -> None:
    group = _group(world)
    url = reverse("staff_bulk:group", args=[group.pk])
    assert _client(world.admin).get(url).context["member_count"] == 2
    data = {
        "name": "Team only",
        "description": "Just the team.",
        "campus": "",
        "care_team": world.care_team.pk,
    }
    assert _client(world.admin).post(url, data).status_code == 302
    group.refresh_from_db()
    assert (group.name, group.campus, group.care_team) == ("Team only", None, world.care_team)
    assert AuditEvent.objects.filter(action="bulk.group_changed").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"campus": "", "care_team": ""}, b"Choose a campus, a care team, or both"),
        ({"campus": "999"}, b"Select a valid choice"),
        ({"care_team": "desk"}, b"Select a valid choice"),
        ({"name": ""}, b"This field is required"),
    ],
)
def test_bad_groups_are_refused(world: World, changes: dict[str, str], message: bytes) -> None:
    data = {"name": "Group", "description": "", "campus": world.campus.pk, "care_team": ""} | changes
    if data["care_team"] == "desk":
        data["care_team"] = CareTeam.objects.get(kind=CareTeam.Kind.SCHEDULING_DESK).pk
    response = _client(world.admin).post(NEW_GROUP, data)
    assert response.status_code == 400
    assert message in response.content
    assert not PatientGroup.objects.exists()


def test_the_group_page_counts_once(world: World) -> None:
    group = _group(world)
    url = reverse("staff_bulk:group", args=[group.pk])
    client = _client(world.admin)
    client.get(url)  # the first request of a session loads more (the session, the user)
    baseline = query_count(lambda: client.get(url))
    for number in range(5):
        make_service(f"Service {number}", groups=[group])
    assert query_count(lambda: client.get(url)) == baseline
