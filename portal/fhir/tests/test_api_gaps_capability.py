"""The CapabilityStatement tells the truth: every declared type, parameter, sort and include works.

Also `_total` (none, estimate, accurate) and `_revinclude`, which the server does not
support and says so. The helpers at the top are shared by the other `test_api_gaps_*` files.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from portal.fhir.api import registry
from portal.fhir.api.search import common_params, is_searchable
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import alice_bundle
from portal.organization.models import Campus, Practitioner
from portal.records.models import Observation, Procedure
from portal.records.tests.support import days_ago, make_immunization, make_medication, make_note, make_visit
from portal.smart.tests.support import issue_token
from portal.test import World, query_count

API = "/fhir/r4/"
FHIR_JSON = "application/fhir+json"


def fetch(token: str | None, path: str, **headers: str) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    extra |= {f"HTTP_{key.upper()}": value for key, value in headers.items()}
    return Client().get(API + path, **extra)


def valid(response: Any, status: int = 200) -> dict[str, Any]:
    """The response's FHIR JSON, checked against the R4B model of its type (each entry's too)."""
    assert response.status_code == status, response.content[:600]
    assert response["Content-Type"].startswith(FHIR_JSON)
    data: dict[str, Any] = response.json()
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    for entry in data.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return data


def refused(response: Any, status: int) -> dict[str, Any]:
    data = valid(response, status)
    OperationOutcome.model_validate(data)
    assert data["resourceType"] == "OperationOutcome"
    return data


def found(data: dict[str, Any], mode: str = "match") -> list[dict[str, Any]]:
    return [entry["resource"] for entry in data.get("entry", []) if entry["search"]["mode"] == mode]


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {f"{resource['resourceType']}/{resource['id']}" for resource in resources}


def walk(token: str, path: str) -> list[dict[str, Any]]:
    """Every match of a search, following its `next` links."""
    seen: list[dict[str, Any]] = []
    while path:
        data = valid(fetch(token, path))
        seen += found(data)
        following = [link["url"] for link in data["link"] if link["relation"] == "next"]
        path = following[0].split(API, 1)[1] if following else ""
    return seen


@pytest.fixture
def full(world: World) -> World:
    """Alice's imported record, a visit with instructions (a CarePlan), and Bob's own record."""
    import_file(alice_bundle(), "alice.json", "test")
    make_visit(world.alice, campus=world.campus)
    make_visit(world.bob)
    return world


def statement() -> dict[str, Any]:
    data = valid(fetch(None, "metadata"))
    CapabilityStatement.model_validate(data)
    return data


# Served to backend services' system tokens (bulk export), not to a patient's token.
SYSTEM_ONLY = {"Group"}


def declared() -> dict[str, dict[str, Any]]:
    """The types the statement declares for patient tokens."""
    resources = statement()["rest"][0]["resource"]
    return {resource["type"]: resource for resource in resources if resource["type"] not in SYSTEM_ONLY}


def test_it_lists_exactly_the_registered_types_and_their_parameters(world: World) -> None:
    types = registry.resource_types()
    listed = declared()
    assert set(listed) == set(types)
    assert {"Organization", "CarePlan", "DocumentReference", "Binary"} <= set(listed)
    assert "Goal" not in listed and "Provenance" not in listed
    for name, kind in types.items():
        resource = listed[name]
        params = {param["name"] for param in resource.get("searchParam", [])}
        if not is_searchable(kind):
            assert resource["interaction"] == [{"code": "read"}] and not params
            assert "searchInclude" not in resource
            continue
        assert {item["code"] for item in resource["interaction"]} == {"read", "search-type"}
        expected = set(kind.search_params) | set(common_params(kind)) | ({"_sort"} if kind.sorts else set())
        assert params == expected, name
        assert resource.get("searchInclude", []) == list(kind.includes)
        assert "searchRevInclude" not in resource
    operations = listed["Patient"]["operation"]
    assert [op["name"] for op in operations if op["name"] == "everything"] == ["everything"]
    rest = statement()["rest"][0]
    assert {param["name"] for param in rest["searchParam"]} == {"_count", "_total"}
    assert "Provenance" in rest["documentation"] and "_revinclude" in rest["documentation"]


def _sort_values(resource: dict[str, Any]) -> list[str]:
    for param in resource.get("searchParam", []):
        if param["name"] == "_sort":
            text = param["documentation"].split(":", 1)[1].split("(")[0]
            return [value.strip() for value in text.split(",") if value.strip()]
    return []


def test_every_declared_sort_and_include_works(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    for name, resource in declared().items():
        for value in _sort_values(resource):
            assert value in registry.resource_types()[name].sorts
            for sort in (value, f"-{value}"):
                valid(fetch(token, f"{name}?_sort={sort}"))
        if "search-type" in {item["code"] for item in resource["interaction"]}:
            refused(fetch(token, f"{name}?_sort=no-such-order"), 400)
        for include in resource.get("searchInclude", []):
            data = valid(fetch(token, f"{name}?_include={quote(include)}", prefer="handling=strict"))
            assert not found(data, "outcome")


def _valid_value(name: str, kind: str, world: World) -> str:
    if kind == "date":
        return "ge2000-01-01"
    if kind == "reference":
        return f"Patient/patient-{world.alice.pk}"
    if kind == "number":
        return "1"
    if name == "_id":
        return "x-1"
    return "a"


def _cases(world: World) -> list[tuple[str, str, str]]:
    cases = []
    for resource in declared().values():
        for param in resource.get("searchParam", []):
            if param["name"] != "_sort":
                cases.append((resource["type"], param["name"], param["type"]))
    return cases


@pytest.mark.long
def test_every_declared_parameter_answers_200_for_a_good_value_and_400_for_a_bad_one(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    cases = _cases(full)
    assert len(cases) > 60
    for type_name, name, kind in cases:
        good = quote(_valid_value(name, kind, full), safe="")
        valid(fetch(token, f"{type_name}?{name}={good}", prefer="handling=strict"))
        valid(fetch(token, f"{type_name}?{name}={good},{good}&{name}={good}"))
        bad_values = ["", "x" * 1001]
        if kind == "date":
            bad_values += ["2024-13-45", "yesterday", "ge2024-02-30"]
        for bad in bad_values:
            refused(fetch(token, f"{type_name}?{name}={quote(bad, safe='')}"), 400)
        refused(fetch(token, f"{type_name}?{name}:zz={good}"), 400)


def test_rest_level_parameters_and_unknown_ones_never_fail_the_server(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    for type_name, resource in declared().items():
        if "search-type" not in {item["code"] for item in resource["interaction"]}:
            refused(fetch(token, type_name), 405)
            continue
        valid(fetch(token, f"{type_name}?_count=1&_total=accurate"))
        refused(fetch(token, f"{type_name}?_count=x"), 400)
        refused(fetch(token, f"{type_name}?_total=exact"), 400)
        data = valid(fetch(token, f"{type_name}?_revinclude=Provenance:target&_include=Nothing:here"))
        (warning,) = found(data, "outcome")
        assert "_revinclude" in warning["issue"][0]["diagnostics"]
        refused(fetch(token, f"{type_name}?_revinclude=Provenance:target", prefer="handling=strict"), 400)


def test_total_is_counted_only_when_asked_for_accurately(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    mine = Observation.objects.filter(patient=full.alice).count()
    assert mine > 2
    assert "total" not in valid(fetch(token, "Observation"))
    assert "total" not in valid(fetch(token, "Observation?_total=none"))
    assert "total" not in valid(fetch(token, "Observation?_total=estimate"))
    data = valid(fetch(token, "Observation?_total=accurate&_count=2"))
    assert data["total"] == mine and len(found(data)) == 2
    next_url = next(link["url"] for link in data["link"] if link["relation"] == "next")
    assert "_total=accurate" in next_url
    data = valid(fetch(token, "Observation?_total=accurate&_count=0"))
    assert data["total"] == mine and not found(data)
    assert valid(fetch(token, "Observation?_total=accurate&category=vital-signs&code=nothing"))["total"] == 0
    # Two parts (notes and stored files) count together.
    notes = valid(fetch(token, "DocumentReference?_total=accurate"))
    assert notes["total"] == len(walk(token, "DocumentReference?_count=1")) > 0
    # Bob's rows are not counted for Alice.
    bob = issue_token(full.bob_user, full.bob)
    assert valid(fetch(bob, "Observation?_total=accurate"))["total"] == 0


def test_counting_costs_one_query_more(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    valid(fetch(token, "Patient"))  # the token's first use is noted once
    plain = query_count(lambda: valid(fetch(token, "Observation")))
    counted = query_count(lambda: valid(fetch(token, "Observation?_total=accurate")))
    assert counted == plain + 1


def test_the_statement_needs_no_token_and_refuses_xml(world: World) -> None:
    refused(fetch(None, "metadata", accept="application/fhir+xml"), 406)
    assert statement()["format"] == ["json", "application/fhir+json"]


def _more_of_everything(world: World) -> None:
    # Imported here: that module imports this one's helpers.
    from portal.fhir.tests.test_api_gaps_documents import make_file

    for n in range(6):
        campus = Campus.objects.create(
            slug=f"extra-{n}",
            name=f"Extra campus {n}",
            short_name=f"Extra {n}",
            address_line=f"{n} Main Street",
            city="Extra",
            postal_code="55000",
            time_zone="America/Chicago",
            zone_label="Central time",
            main_phone="507-555-0111",
            appointments_phone="507-555-0112",
        )
        doctor = Practitioner.objects.create(given_name=f"Doc{n}", family_name="Extra", role="physician")
        visit = make_visit(world.alice, campus=campus, practitioner=doctor, started_at=days_ago(n + 1))
        make_note(world.alice, f"Extra note {n}", author=doctor, encounter=visit)
        make_medication(world.alice, f"Extra pill {n}", prescriber=doctor)
        make_immunization(world.alice, f"Extra vaccine {n}", campus=campus)
        Procedure.objects.create(
            patient=world.alice, name=f"Extra {n}", performed_at=days_ago(n), campus=campus, encounter=visit
        )
        make_file(world.alice, f"Extra file {n}", dt.date(2024, 1, 1) + dt.timedelta(days=n), encounter=visit)


def valid_search(token: str, query: str) -> None:
    valid(fetch(token, query))


def test_a_search_costs_the_same_whatever_the_data(full: World) -> None:
    token = issue_token(full.alice_user, full.alice)
    valid(fetch(token, "Patient"))
    queries: dict[str, str] = {}
    for name, kind in registry.resource_types().items():
        if is_searchable(kind):
            includes = "".join(f"&_include={include}" for include in kind.includes)
            queries[name] = f"{name}?_count=200{includes}"

    def costs() -> dict[str, int]:
        return {name: query_count(partial(valid_search, token, query)) for name, query in queries.items()}

    before = costs()
    _more_of_everything(full)
    after = costs()
    # An include that found nothing before costs its one query now.
    assert {name: count for name, count in after.items() if count > before[name] + 1} == {}
    assert max(after.values()) <= 12
