"""Organization: the clinic at each campus, readable by any patient's token, and referenced by the rest."""

from __future__ import annotations

import pytest

from portal.fhir import codes
from portal.fhir.tests.test_api_gaps_capability import fetch, found, ids, refused, valid, walk
from portal.organization.models import Campus
from portal.patients.models import Scope
from portal.records.tests.support import make_visit
from portal.smart.tests.support import issue_token
from portal.test import World


@pytest.fixture
def second_campus(world: World) -> Campus:
    return Campus.objects.create(
        slug="phoenix",
        name="Phoenix, Arizona",
        short_name="Phoenix",
        address_line="5777 East Mayo Boulevard",
        city="Phoenix",
        region="AZ",
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0101",
        is_active=False,
    )


def test_a_campus_is_a_us_core_organization(world: World, second_campus: Campus) -> None:
    token = issue_token(world.alice_user, world.alice)
    data = valid(fetch(token, f"Organization/campus-{world.campus.pk}"))
    assert data["meta"]["profile"] == [codes.US_CORE + "us-core-organization"]
    assert data["active"] is True and data["name"] == "Rochester, Minnesota"
    assert data["identifier"] == [{"system": "urn:portal:campus", "value": "rochester"}]
    assert data["telecom"][0] == {"system": "phone", "value": "507-555-0100", "use": "work", "rank": 1}
    assert data["address"][0]["city"] == "Rochester" and data["address"][0]["postalCode"] == "55905"
    assert valid(fetch(token, f"Organization/campus-{second_campus.pk}"))["active"] is False


def test_search_by_name_address_id_and_identifier(world: World, second_campus: Campus) -> None:
    token = issue_token(world.alice_user, world.alice)

    def hits(query: str) -> set[str]:
        return ids(found(valid(fetch(token, f"Organization?{query}"))))

    rochester, phoenix = f"Organization/campus-{world.campus.pk}", f"Organization/campus-{second_campus.pk}"
    assert hits("") == {rochester, phoenix}
    assert hits("name=phoe") == {phoenix} and hits("name=Rochester") == {rochester}
    assert hits("address=AZ") == {phoenix} and hits("address=55905") == {rochester}
    assert hits("address=Nowhere") == set()
    assert hits(f"_id=campus-{second_campus.pk}") == {phoenix}
    assert hits("identifier=urn:portal:campus|rochester") == {rochester}
    assert hits("identifier=http://hl7.org/fhir/sid/us-npi|rochester") == set()
    assert hits("active=true") == {rochester} and hits("active=false") == {phoenix}
    assert [r["name"] for r in walk(token, "Organization?_sort=-name")] == [
        "Rochester, Minnesota",
        "Phoenix, Arizona",
    ]


def test_the_other_resources_refer_to_it(world: World) -> None:
    visit = make_visit(world.alice, campus=world.campus)
    token = issue_token(world.alice_user, world.alice)
    organization = f"Organization/campus-{world.campus.pk}"
    patient = valid(fetch(token, f"Patient/patient-{world.alice.pk}"))
    encounter = valid(fetch(token, f"Encounter/encounter-{visit.pk}"))
    location = valid(fetch(token, f"Location/campus-{world.campus.pk}"))
    (team,) = found(valid(fetch(token, "CareTeam")))
    assert patient["managingOrganization"]["reference"] == organization
    assert encounter["serviceProvider"]["reference"] == organization
    assert location["managingOrganization"]["reference"] == organization
    assert team["managingOrganization"][0]["reference"] == organization
    for reference in (organization, encounter["location"][0]["location"]["reference"]):
        valid(fetch(token, reference))
    data = valid(fetch(token, "Encounter?_include=Encounter:service-provider&_include=Encounter:location"))
    assert ids(found(data, "include")) == {organization, f"Location/campus-{world.campus.pk}"}


def test_every_patients_token_reads_it_with_the_scope(world: World, second_campus: Campus) -> None:
    path = f"Organization/campus-{second_campus.pk}"
    expected = valid(fetch(issue_token(world.alice_user, world.alice), path))
    for user, patient in ((world.proxy_user, world.alice), (world.bob_user, world.bob)):
        assert valid(fetch(issue_token(user, patient), path)) == expected
    narrow = issue_token(world.proxy_user, world.alice, "launch/patient patient/Patient.rs")
    refused(fetch(narrow, path), 403)
    refused(fetch(narrow, "Organization"), 403)
    only = issue_token(world.proxy_user, world.alice, "launch/patient patient/Organization.rs")
    assert valid(fetch(only, path)) == expected
    refused(fetch(None, path), 401)
    refused(fetch(None, "Organization"), 401)
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    refused(fetch(only, path), 401)
    refused(fetch(only, "Organization/campus-999999"), 401)
    refused(fetch(issue_token(world.bob_user, world.bob), "Organization/campus-999999"), 404)


def test_everything_lists_only_the_campuses_of_her_care(world: World, second_campus: Campus) -> None:
    token = issue_token(world.alice_user, world.alice)
    listed = ids(walk(token, f"Patient/patient-{world.alice.pk}/$everything"))
    assert f"Organization/campus-{world.campus.pk}" in listed
    assert f"Organization/campus-{second_campus.pk}" not in listed
    make_visit(world.alice, campus=second_campus)
    assert f"Organization/campus-{second_campus.pk}" in ids(
        walk(token, f"Patient/patient-{world.alice.pk}/$everything")
    )
