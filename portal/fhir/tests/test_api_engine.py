"""The FHIR API engine: metadata, read, search, paging, $everything, isolation between patients, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient

from portal.audit.models import AuditEvent
from portal.records.models import Observation
from portal.records.tests.support import make_panel
from portal.smart.models import PatientAuthorization
from portal.smart.tests.support import issue_token
from portal.test import World, query_count

API = "/fhir/r4/"


def get(token: str | None, path: str, **headers: Any) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    extra |= {f"HTTP_{key.upper()}": value for key, value in headers.items()}
    return Client().get(API + path, **extra)


def body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/fhir+json"), response.content[:300]
    data: dict[str, Any] = response.json()
    return data


def bundle(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content[:500]
    data = body(response)
    Bundle.model_validate(data)
    return data


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    data = body(response)
    OperationOutcome.model_validate(data)
    return data


def matches(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in data.get("entry", []) if e["search"]["mode"] == "match"]


def vitals(patient: Any, count: int, start: dt.datetime | None = None) -> list[Observation]:
    start = start or timezone.now() - dt.timedelta(days=count + 1)
    return [
        Observation.objects.create(
            patient=patient,
            category=Observation.Category.VITAL_SIGNS,
            code="8867-4",
            name="Heart rate",
            value_number=60 + index,
            unit="/min",
            effective_at=start + dt.timedelta(days=index),
        )
        for index in range(count)
    ]


@pytest.fixture
def alice_token(world: World) -> str:
    make_panel(world.alice)
    vitals(world.alice, 2)
    make_panel(world.bob)
    vitals(world.bob, 2)
    return issue_token(world.alice_user, world.alice)


def test_metadata_is_a_capability_statement_without_auth(world: World) -> None:
    data = body(get(None, "metadata"))
    CapabilityStatement.model_validate(data)
    assert data["fhirVersion"] == "4.0.1"
    rest = data["rest"][0]
    kinds = {r["type"]: r for r in rest["resource"]}
    assert {"Patient", "Observation"} <= set(kinds)
    assert kinds["Observation"]["searchInclude"] == ["Observation:patient"]
    assert {"patient", "category", "code", "date", "_id", "_lastUpdated"} <= {
        p["name"] for p in kinds["Observation"]["searchParam"]
    }
    uris = {e["url"]: e["valueUri"] for e in rest["security"]["extension"][0]["extension"]}
    assert uris["authorize"].endswith("/oauth/authorize/") and uris["token"].endswith("/oauth/token/")


def test_read_patient_and_observation(world: World, alice_token: str) -> None:
    data = body(get(alice_token, f"Patient/patient-{world.alice.pk}"))
    FhirPatient.model_validate(data)
    obs = Observation.objects.filter(patient=world.alice, category="laboratory").first()
    assert obs is not None
    data = body(get(alice_token, f"Observation/observation-{obs.pk}"))
    FhirObservation.model_validate(data)
    assert data["subject"]["reference"] == f"Patient/patient-{world.alice.pk}"
    assert data["category"][0]["coding"][0]["code"] == "laboratory"
    event = AuditEvent.objects.filter(action="fhir.read").latest("sequence")
    assert event.patient_id == world.alice.pk and event.actor_id == world.alice_user.pk
    assert event.actor_role == "patient"
    assert event.detail == {"app": "Health Tracker", "resource": "Observation", "count": 1}


def test_search_by_category_code_date_and_include(world: World, alice_token: str) -> None:
    data = bundle(get(alice_token, "Observation?category=vital-signs"))
    assert len(matches(data)) == 2
    data = bundle(get(alice_token, "Observation?code=http://loinc.org|2345-7"))
    assert [r["code"]["coding"][0]["code"] for r in matches(data)] == ["2345-7"]
    assert matches(bundle(get(alice_token, "Observation?code=|2345-7"))) == []
    year = timezone.now().year
    assert len(matches(bundle(get(alice_token, f"Observation?date=ge{year - 1}&date=lt{year + 1}-01")))) == 5
    assert matches(bundle(get(alice_token, f"Observation?date=sa{year + 1}"))) == []
    data = bundle(
        get(alice_token, f"Observation?patient=Patient/patient-{world.alice.pk}&_include=Observation:patient")
    )
    included = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "include"]
    assert [r["id"] for r in included] == [f"patient-{world.alice.pk}"]
    event = AuditEvent.objects.filter(action="fhir.search").latest("sequence")
    assert event.detail["app"] == "Health Tracker" and event.detail["resource"] == "Observation"


def test_post_search_and_unknown_parameters(world: World, alice_token: str) -> None:
    response = Client().post(
        API + "Observation/_search", {"category": "laboratory"}, HTTP_AUTHORIZATION=f"Bearer {alice_token}"
    )
    assert len(matches(bundle(response))) == 3
    data = bundle(get(alice_token, "Observation?foo=bar"))
    outcomes = [e for e in data["entry"] if e["search"]["mode"] == "outcome"]
    assert "foo" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    error(get(alice_token, "Observation?foo=bar", prefer="handling=strict"), 400)


def test_alice_reads_nothing_of_bob(world: World, alice_token: str) -> None:
    bob_obs = Observation.objects.filter(patient=world.bob).first()
    assert bob_obs is not None
    missing = error(get(alice_token, "Observation/observation-999999"), 404)
    theirs = error(get(alice_token, f"Observation/observation-{bob_obs.pk}"), 404)
    assert theirs["issue"][0]["code"] == missing["issue"][0]["code"]
    error(get(alice_token, f"Patient/patient-{world.bob.pk}"), 404)
    assert matches(bundle(get(alice_token, f"Observation?patient=patient-{world.bob.pk}"))) == []
    assert matches(bundle(get(alice_token, f"Observation?patient=Patient/patient-{world.bob.pk}"))) == []
    assert matches(bundle(get(alice_token, f"Observation?_id=observation-{bob_obs.pk}"))) == []
    assert matches(bundle(get(alice_token, f"Patient?_id=patient-{world.bob.pk}"))) == []
    error(get(alice_token, f"Patient/patient-{world.bob.pk}/$everything"), 404)
    data = bundle(get(alice_token, "Observation?_include=Observation:patient&_count=200"))
    for entry in data["entry"]:
        text = str(entry["resource"])
        assert f"patient-{world.bob.pk}'" not in text and f"observation-{bob_obs.pk}'" not in text
    everything = bundle(get(alice_token, f"Patient/patient-{world.alice.pk}/$everything?_count=200"))
    ids = {(r["resourceType"], r["id"]) for r in matches(everything)}
    assert ("Patient", f"patient-{world.alice.pk}") in ids
    assert ("Patient", f"patient-{world.bob.pk}") not in ids
    assert all(
        r.get("subject", r.get("patient", {})).get("reference", "").endswith(f"patient-{world.alice.pk}")
        for r in matches(everything)
        if r["resourceType"] == "Observation"
    )


def test_wrong_scopes_are_403(world: World) -> None:
    make_panel(world.alice)
    token = issue_token(world.alice_user, world.alice, "launch/patient patient/Patient.rs")
    error(get(token, "Observation"), 403)
    error(get(token, "Observation/observation-1"), 403)
    bundle(get(token, "Patient"))
    read_only = issue_token(world.alice_user, world.alice, "patient/Observation.r")
    error(get(read_only, "Observation"), 403)


def test_granular_category_restriction(world: World) -> None:
    make_panel(world.alice)
    vitals(world.alice, 2)
    scope = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    token = issue_token(world.alice_user, world.alice, scope)
    data = bundle(get(token, "Observation"))
    assert {r["category"][0]["coding"][0]["code"] for r in matches(data)} == {"vital-signs"}
    lab = Observation.objects.filter(patient=world.alice, category="laboratory").first()
    assert lab is not None
    error(get(token, f"Observation/observation-{lab.pk}"), 404)


def test_revoked_expired_and_proxy_lost_are_401(world: World) -> None:
    token = issue_token(world.alice_user, world.alice)
    PatientAuthorization.objects.update(revoked_at=timezone.now())
    response = get(token, "Patient")
    error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    error(get(None, "Patient"), 401)
    error(get("nonsense", "Patient"), 401)
    from oauth2_provider.models import AccessToken

    from portal.smart.tokens import checksum

    expired = issue_token(world.alice_user, world.alice)
    stale = timezone.now() - dt.timedelta(seconds=1)
    AccessToken.objects.filter(token_checksum=checksum(expired)).update(expires=stale)
    error(get(expired, "Patient"), 401)
    proxy = issue_token(world.proxy_user, world.alice)
    bundle(get(proxy, "Patient"))
    world.proxy_grant.revoked_at = timezone.now()
    world.proxy_grant.save()
    error(get(proxy, "Patient"), 401)


def test_paging_walks_forward_and_back_with_keyset_cursors(world: World) -> None:
    vitals(world.alice, 7)
    token = issue_token(world.alice_user, world.alice)
    seen: list[str] = []
    path = "Observation?_count=3&_sort=date"
    pages = []
    while path:
        data = bundle(get(token, path))
        pages.append(data)
        seen += [r["id"] for r in matches(data)]
        nxt = [link["url"] for link in data["link"] if link["relation"] == "next"]
        path = nxt[0].split("/fhir/r4/", 1)[1] if nxt else ""
    expected = [
        f"observation-{o.pk}"
        for o in Observation.objects.filter(patient=world.alice).order_by("effective_at")
    ]
    assert seen == expected and len(pages) == 3
    prev = next(link["url"] for link in pages[-1]["link"] if link["relation"] == "previous")
    back = bundle(get(token, prev.split("/fhir/r4/", 1)[1]))
    assert [r["id"] for r in matches(back)] == expected[3:6]
    # A token is only good for the search that made it.
    other = prev.split("/fhir/r4/", 1)[1].replace("_sort=date", "_sort=-date")
    error(get(token, other), 400)
    error(get(token, "Observation?_page=forged"), 400)


def test_everything_pages(world: World) -> None:
    make_panel(world.alice)
    vitals(world.alice, 4)
    token = issue_token(world.alice_user, world.alice)
    seen: list[tuple[str, str]] = []
    path = f"Patient/patient-{world.alice.pk}/$everything?_count=2"
    while path:
        data = bundle(get(token, path))
        seen += [(r["resourceType"], r["id"]) for r in matches(data)]
        nxt = [link["url"] for link in data["link"] if link["relation"] == "next"]
        path = nxt[0].split("/fhir/r4/", 1)[1] if nxt else ""
    assert len(seen) == len(set(seen))
    assert sum(1 for kind, _id in seen if kind == "Observation") == 7
    assert ("Patient", f"patient-{world.alice.pk}") in seen


@pytest.mark.parametrize(
    "query",
    [
        "Observation?date=2024-13-01",
        "Observation?date=xx2024",
        "Observation?date=ge99999",
        "Observation?date=0000",
        "Observation?date=2024-02-30",
        "Observation?date=2024-01-01T10:00:00+25:00",
        "Observation?_lastUpdated=yesterday",
        "Observation?_count=-1",
        "Observation?_count=abc",
        "Observation?_sort=name",
        "Observation?code:text=glucose",
        "Observation?code=" + "x" * 5000,
        "Observation?_page=" + "y" * 900,
    ],
)
def test_bad_parameters_are_400(world: World, query: str) -> None:
    token = issue_token(world.alice_user, world.alice)
    error(get(token, query), 400)


@pytest.mark.parametrize(
    "query",
    [
        "Observation?_count=999999",
        "Observation?_count=0",
        "Observation?code=%27%3B%20DROP%20TABLE%20records_observation%3B--",
        "Observation?code=%E2%9C%93%F0%9F%92%A9",
        "Observation?patient=Patient/patient-99999999999999999999999",
        "Observation?_id=observation-99999999999999999999",
        "Observation?date=ap2024-01-01&date=ne2020&date=eb2030-01-01T00:00:00Z",
        "Observation?date=9998",
        "Observation?date=0002",
        "Observation?category=laboratory,vital-signs&_sort=-date",
        "Patient?name=Al&birthdate=1980&gender=female&identifier=x|y",
        "Observation?_format=json",
        "Observation?_format=application/fhir%2Bjson",
    ],
)
def test_hostile_parameters_are_answered(world: World, query: str) -> None:
    make_panel(world.alice)
    token = issue_token(world.alice_user, world.alice)
    data = bundle(get(token, query))
    assert len(matches(data)) <= 200


def test_format_method_and_type_errors(world: World) -> None:
    token = issue_token(world.alice_user, world.alice)
    error(get(token, "Patient?_format=xml"), 406)
    error(get(token, "Patient", accept="application/fhir+xml"), 406)
    bundle(get(token, "Patient", accept="application/json"))
    error(get(token, "Nothing"), 404)
    error(get(token, "Nothing/x"), 404)
    error(get(token, "Patient/x/y/z"), 404)
    error(get(token, "Patient/%00%ff"), 404)
    response = Client().delete(
        API + f"Patient/patient-{world.alice.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    error(response, 405)
    response = Client().post(API + "Patient", HTTP_AUTHORIZATION=f"Bearer {token}")
    error(response, 405)


def test_queries_are_bounded_whatever_the_data(world: World) -> None:
    token = issue_token(world.alice_user, world.alice)
    vitals(world.alice, 3)
    make_panel(world.alice)
    small = query_count(lambda: bundle(get(token, "Observation?_include=Observation:patient")))
    small_all = query_count(lambda: bundle(get(token, f"Patient/patient-{world.alice.pk}/$everything")))
    vitals(world.alice, 60)
    for _ in range(5):
        make_panel(world.alice)
    assert query_count(lambda: bundle(get(token, "Observation?_include=Observation:patient"))) <= small
    assert (
        query_count(lambda: bundle(get(token, f"Patient/patient-{world.alice.pk}/$everything"))) <= small_all
    )
    assert small <= 20


@pytest.mark.parametrize("kind", ["Practitioner", "Location", "CareTeam", "Observation", "Condition"])
def test_every_type_answers_a_search_and_last_updated(world: World, alice_token: str, kind: str) -> None:
    """Each registered type serves a plain search; `_lastUpdated` is a filter or a reported unknown."""
    assert get(alice_token, kind).status_code == 200
    response = get(alice_token, f"{kind}?_lastUpdated=ge2020-01-01")
    assert response.status_code == 200
