"""Hostile values in every FHIR search parameter and every OAuth and bulk-export parameter.

Each answer must be a clear 4xx (an OperationOutcome or an OAuth error) or a legitimate
success, never a 5xx or a stack trace, and nothing of Bob's may change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.bulk.models import BackendService, PatientGroup
from portal.bulk.tests.support import issue_system_token, make_service
from portal.records.tests.support import make_allergy, make_medication, make_note, make_panel
from portal.security_tests.hostile import (
    CORE,
    CORPUS,
    FORM,
    Hostile,
    Tally,
    changed,
    encode_form,
    encode_query,
    fingerprint,
    hostile_values,
    send,
)
from portal.smart.tests.oauth_support import REDIRECT, challenge_for
from portal.smart.tests.support import add_refresh_token, issue_token, make_app, stored_access_token
from portal.test import World

API = "/fhir/r4/"
FHIR_JSON = "application/fhir+json"
# Parameters every type takes (besides its own), and modifier/prefix forms of a type's own.
COMMON = (
    "_id",
    "_lastUpdated",
    "_count",
    "_page",
    "_sort",
    "_include",
    "_revinclude",
    "_elements",
    "_summary",
    "_total",
    "_format",
)
EXAMPLES = 25  # hypothesis examples per property; the sweeps cover the corpus deterministically


@dataclass
class ApiWorld:
    world: World
    patient_token: str
    system_token: str
    app_client_id: str
    refresh_token: str
    group: PatientGroup
    service: BackendService


@pytest.fixture
def api(world: World) -> Iterator[ApiWorld]:
    for patient in (world.alice, world.bob):
        make_panel(patient)
        make_note(patient)
        make_medication(patient)
        make_allergy(patient)
    app = make_app()
    patient_token = issue_token(world.alice_user, world.alice, app=app)
    refresh = add_refresh_token(stored_access_token(patient_token))
    group = PatientGroup.objects.create(name="Rochester", campus=world.campus)
    service = make_service("Warehouse", all_patients=True, groups=[group])
    before = fingerprint(world.bob, world.bob_user)
    yield ApiWorld(world, patient_token, issue_system_token(service), app.client_id, refresh, group, service)
    assert changed(before, fingerprint(world.bob, world.bob_user)) == []


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def search_parameters(client: Client, token: str) -> list[tuple[str, str]]:
    """Every (type, parameter) the capability statement advertises, plus the common ones."""
    statement = client.get(API + "metadata", **bearer(token)).json()
    pairs = []
    for resource in statement["rest"][0]["resource"]:
        names = [param["name"] for param in resource.get("searchParam", [])]
        for name in dict.fromkeys([*names, *COMMON, *(f"{n}:missing" for n in names[:2]), "unknown-param"]):
            pairs.append((resource["type"], name))
    return pairs


def test_every_fhir_search_parameter_survives_the_corpus(api: ApiWorld) -> None:
    client = Client()
    tally = Tally("FHIR search (GET)")
    pairs = search_parameters(client, api.patient_token)
    for index, (kind, name) in enumerate(pairs):
        tally.targets.add(f"{kind}?{name}")
        # One value per parameter, rotating, so the corpus is spread over all of them.
        for value in (CORPUS[index % len(CORPUS)],):
            query = encode_query([(name, value)])
            tally.inputs += 1
            send(
                client,
                tally,
                "get",
                f"{API}{kind}?{query}",
                f"GET {kind}?{name}={value.label}",
                **bearer(api.patient_token),
            )
        # A list where one value is expected, and a prefix in front of a hostile value.
        rest = CORE[index % len(CORE)]
        query = encode_query([(name, "ge" + rest.as_str()[:50]), (name, rest), (name, "")])
        tally.inputs += 3
        send(
            client,
            tally,
            "get",
            f"{API}{kind}?{query}",
            f"GET {kind}?{name}=[list]",
            **bearer(api.patient_token),
        )
    tally.assert_clean()
    # The sweep proves nothing if the token had stopped working: a clean search still answers.
    assert client.get(f"{API}Observation", **bearer(api.patient_token)).status_code == 200


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fhir_searches_mixing_hostile_values_and_post(api: ApiWorld, data: st.DataObject) -> None:
    client = Client()
    tally = Tally("FHIR search (mixed, POST _search)")
    pairs = search_parameters(client, api.patient_token)
    chosen = data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=4))
    kind = chosen[0][0]
    params = [(name, data.draw(hostile_values())) for _, name in chosen]
    tally.inputs += len(params)
    if data.draw(st.booleans()):
        send(
            client,
            tally,
            "get",
            f"{API}{kind}?{encode_query(params)}",
            f"GET {kind} {params}",
            **bearer(api.patient_token),
        )
    else:
        body = encode_form(params)
        send(
            client,
            tally,
            "post",
            f"{API}{kind}/_search",
            f"POST {kind}/_search",
            data=body,
            content_type=FORM,
            **bearer(api.patient_token),
        )
    tally.assert_clean()


def test_hostile_ids_reads_and_everything(api: ApiWorld) -> None:
    client = Client()
    tally = Tally("FHIR read/$everything")
    kinds = sorted({kind for kind, _ in search_parameters(client, api.patient_token)})
    for turn, value in enumerate(CORPUS):
        resource_id = encode_query([("x", value)])[2:][:3000]
        for kind in (kinds[turn % len(kinds)], kinds[(turn + 7) % len(kinds)]):
            tally.targets.add(f"{kind}/<id>")
            tally.inputs += 1
            send(
                client,
                tally,
                "get",
                f"{API}{kind}/{resource_id}",
                f"GET {kind}/{value.label}",
                **bearer(api.patient_token),
            )
        for name in ("_count", "_page", "_type", "_since", "_format")[turn % 5 : turn % 5 + 2]:
            tally.targets.add(f"$everything?{name}")
            tally.inputs += 1
            path = f"{API}Patient/patient-{api.world.alice.pk}/$everything?{encode_query([(name, value)])}"
            send(client, tally, "get", path, f"$everything {name}={value.label}", **bearer(api.patient_token))
        # Headers are input too: a hostile Accept or Authorization must be a clean refusal.
        tally.inputs += 2
        send(
            client,
            tally,
            "get",
            f"{API}Patient",
            f"Accept {value.label}",
            HTTP_ACCEPT=value.as_str()[:2000],
            **bearer(api.patient_token),
        )
        send(
            client,
            tally,
            "get",
            f"{API}Patient",
            f"Bearer {value.label}",
            HTTP_AUTHORIZATION="Bearer " + value.as_str()[:2000],
        )
    tally.assert_clean()


BULK_PARAMETERS = (
    "_type",
    "_since",
    "_outputFormat",
    "_typeFilter",
    "patient",
    "_elements",
    "includeAssociatedData",
    "_format",
)


def test_bulk_kick_off_status_and_group_parameters(api: ApiWorld) -> None:
    client = Client()
    tally = Tally("Bulk export")
    headers = {"HTTP_ACCEPT": FHIR_JSON, "HTTP_PREFER": "respond-async", **bearer(api.system_token)}
    group_id = f"group-{api.group.pk}"
    for turn, value in enumerate(CORE):
        for base in ("$export", "Patient/$export", f"Group/{group_id}/$export", "Group"):
            names = (*BULK_PARAMETERS, "name", "_id") if base == "Group" else BULK_PARAMETERS
            for name in (names[turn % len(names)], names[(turn + 3) % len(names)]):
                tally.targets.add(f"{base}?{name}")
                tally.inputs += 1
                path = f"{API}{base}?{encode_query([(name, value)])}"
                send(client, tally, "get", path, f"{base}?{name}={value.label}", **headers)
        quoted = encode_query([("x", value)])[2:][:3000]
        tally.inputs += 3
        send(client, tally, "get", f"{API}Group/{quoted}/$export", f"Group/{value.label}/$export", **headers)
        send(client, tally, "get", f"{API}Group/{quoted}", f"Group/{value.label}", **headers)
        lenient = {**headers, "HTTP_PREFER": "respond-async, handling=" + value.as_str()[:500]}
        send(client, tally, "get", f"{API}$export?_type=Patient", f"Prefer {value.label}", **lenient)
    for path in ("bulk/status/999999999999999999999", "bulk/files/-1", "bulk/status/0"):
        tally.inputs += 1
        send(client, tally, "get", API + path, path, **headers)
    tally.assert_clean()


def authorize_params(api: ApiWorld) -> dict[str, str]:
    verifier = "v" * 50
    return {
        "response_type": "code",
        "client_id": api.app_client_id,
        "redirect_uri": REDIRECT,
        "scope": "launch/patient openid fhirUser patient/*.rs",
        "state": "abc",
        "aud": "http://testserver/fhir/r4",
        "code_challenge": challenge_for(verifier),
        "code_challenge_method": "S256",
        "launch": "",
    }


def test_oauth_authorize_with_a_hostile_value_in_each_parameter(api: ApiWorld) -> None:
    client = Client()
    client.force_login(api.world.alice_user)
    tally = Tally("OAuth authorize")
    valid = authorize_params(api)
    for name in valid:
        tally.targets.add(f"authorize?{name}")
        for value in CORE:
            params: list[tuple[str, Hostile | str]] = [
                (key, value if key == name else good) for key, good in valid.items()
            ]
            tally.inputs += 1
            send(
                client,
                tally,
                "get",
                f"/oauth/authorize/?{encode_query(params)}",
                f"authorize {name}={value.label}",
            )
            if name == "scope":
                # The consent form's answer, with the same hostile value in what the patient posts.
                form: list[tuple[str, Hostile | str]] = [
                    ("decision", value),
                    ("keep", value),
                    ("patient", value),
                    ("allow", "allow"),
                ]
                tally.inputs += 3
                send(
                    client,
                    tally,
                    "post",
                    f"/oauth/authorize/?{encode_query(params)}",
                    f"consent {name}={value.label}",
                    data=encode_form(form),
                    content_type=FORM,
                )
    tally.assert_clean()


TOKEN_PARAMETERS = {
    "grant_type": "authorization_code",
    "code": "not-a-code",
    "redirect_uri": REDIRECT,
    "client_id": "",
    "code_verifier": "v" * 50,
    "refresh_token": "",
    "scope": "patient/*.rs",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": "a.b.c",
}


def test_oauth_token_revoke_and_introspect_parameters(api: ApiWorld) -> None:
    client = Client()
    tally = Tally("OAuth token/revoke/introspect")
    grants = (
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
    )
    for grant in grants:
        for index, name in enumerate(TOKEN_PARAMETERS):
            tally.targets.add(f"token[{grant}]?{name}")
            for value in CORE[index % 4 :: 5]:
                valid = TOKEN_PARAMETERS | {
                    "grant_type": grant,
                    "client_id": api.app_client_id,
                    "refresh_token": api.refresh_token,
                }
                pairs: list[tuple[str, Hostile | str]] = [
                    (key, value if key == name else good) for key, good in valid.items()
                ]
                tally.inputs += 1
                send(
                    client,
                    tally,
                    "post",
                    "/oauth/token/",
                    f"token {grant} {name}={value.label}",
                    data=encode_form(pairs),
                    content_type=FORM,
                )
    for value in CORE:
        for name in ("token", "token_type_hint", "client_id"):
            tally.targets.update({f"revoke?{name}", f"introspect?{name}"})
            pairs = [
                (key, value if key == name else good)
                for key, good in {
                    "token": "x",
                    "token_type_hint": "access_token",
                    "client_id": api.app_client_id,
                }.items()
            ]
            tally.inputs += 2
            send(
                client,
                tally,
                "post",
                "/oauth/revoke/",
                f"revoke {name}={value.label}",
                data=encode_form(pairs),
                content_type=FORM,
            )
            send(
                client,
                tally,
                "post",
                "/oauth/introspect/",
                f"introspect {name}={value.label}",
                data=encode_form(pairs),
                content_type=FORM,
                **bearer(api.patient_token),
            )
        tally.inputs += 1
        send(
            client,
            tally,
            "post",
            "/oauth/token/",
            f"token JSON {value.label}",
            data='{"grant_type": ["x"], "code": {"a": 1}}',
            content_type="application/json",
        )
    tally.assert_clean()
