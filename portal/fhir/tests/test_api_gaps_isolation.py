"""A token for one patient reads nothing of another: every type, every _include, $everything, Binary.

Alice has something of every type; Bob's token tries each of her resources by id, each
search (with her as `patient`), each declared `_include`, and `$everything` with her id.
Only the clinic's directory (Organization, and the campus both are cared at) is shared.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from portal.fhir.api import registry
from portal.fhir.api.search import is_searchable
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import alice_bundle
from portal.fhir.tests.test_api_gaps_capability import fetch, ids, refused, valid, walk
from portal.fhir.tests.test_api_gaps_documents import make_file
from portal.fhir.tests.test_api_resources_care import add_coverage
from portal.records.tests.support import make_visit
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.smart.tests.support import issue_token
from portal.test import World


@pytest.fixture
def everyone(world: World) -> World:
    import_file(alice_bundle(), "alice.json", "test")
    make_visit(world.alice, campus=world.campus, practitioner=world.clinician.practitioner)
    make_file(world.alice, "Alice's letter", dt.date(2025, 6, 1))
    add_coverage(world)
    clinic = scheduling_world(world)
    book(clinic, make_slot(clinic, local_moment(world.campus, 3, 10)))
    make_visit(world.bob)
    make_file(world.bob, "Bob's letter", dt.date(2025, 6, 2))
    return world


def searchable_types() -> list[str]:
    return [name for name, kind in registry.resource_types().items() if is_searchable(kind)]


def holdings(token: str, patient_pk: int) -> set[str]:
    """Every resource a token can list, with the Binary each DocumentReference names."""
    found: set[str] = set()
    for name in searchable_types():
        resources = walk(token, f"{name}?_count=200")
        found |= ids(resources)
        for resource in resources:
            for content in resource.get("content", []):
                found.add(content["attachment"]["url"])
    return found


def test_her_every_resource_is_404_for_his_token(everyone: World) -> None:
    alice = holdings(issue_token(everyone.alice_user, everyone.alice), everyone.alice.pk)
    bob_token = issue_token(everyone.bob_user, everyone.bob)
    bob = holdings(bob_token, everyone.bob.pk)
    only_hers = alice - bob
    kinds = {reference.split("/")[0] for reference in only_hers}
    assert set(registry.resource_types()) - {"Organization", "Location"} <= kinds
    assert {reference.split("/")[0] for reference in alice & bob} <= {"Organization", "Location"}
    for reference in sorted(only_hers):
        theirs = refused(fetch(bob_token, reference, accept="application/fhir+json"), 404)
        assert theirs["issue"][0]["code"] == "not-found", reference
        if reference.startswith("Binary/"):
            refused(fetch(bob_token, reference, accept="*/*"), 404)
    hers = issue_token(everyone.alice_user, everyone.alice)
    binary = next(reference for reference in only_hers if reference.startswith("Binary/document-"))
    assert fetch(hers, binary).status_code == 200


@pytest.mark.parametrize("name", sorted(registry.resource_types()))
def test_his_searches_and_includes_name_nothing_of_hers(everyone: World, name: str) -> None:
    kind = registry.resource_types()[name]
    bob = issue_token(everyone.bob_user, everyone.bob)
    if not is_searchable(kind):
        refused(fetch(bob, name), 405)
        return
    alice = f"patient-{everyone.alice.pk}"
    queries = [f"{name}?_count=200"]
    queries += [f"{name}?_count=200&_include={include}" for include in kind.includes]
    if "patient" in kind.search_params:
        queries.append(f"{name}?patient=Patient/{alice}")
        queries.append(f"{name}?patient={alice}&_include=*")
    for query in queries:
        data = valid(fetch(bob, query))
        text = json.dumps(data.get("entry", []))
        assert f"Patient/{alice}" not in text and "Alice" not in text and "Able" not in text, query
        if "patient=" in query:
            assert not [e for e in data.get("entry", []) if e["search"]["mode"] == "match"], query


def test_her_everything_is_404_and_his_holds_nothing_of_hers(everyone: World) -> None:
    bob = issue_token(everyone.bob_user, everyone.bob)
    refused(fetch(bob, f"Patient/patient-{everyone.alice.pk}/$everything"), 404)
    alice_only = holdings(issue_token(everyone.alice_user, everyone.alice), everyone.alice.pk) - holdings(
        bob, everyone.bob.pk
    )
    his = ids(walk(bob, f"Patient/patient-{everyone.bob.pk}/$everything?_count=200"))
    assert his and not his & alice_only
    text = json.dumps(walk(bob, f"Patient/patient-{everyone.bob.pk}/$everything"))
    assert f"patient-{everyone.alice.pk}" not in text and "Alice" not in text


def test_no_token_reads_nothing(everyone: World) -> None:
    for name in registry.resource_types():
        refused(fetch(None, name), 401)
        refused(fetch(None, f"{name}/x-1", accept="*/*"), 401)
    refused(fetch(None, f"Patient/patient-{everyone.alice.pk}/$everything"), 401)
