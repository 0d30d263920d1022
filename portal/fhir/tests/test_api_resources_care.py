"""The FHIR API's care resources: Practitioner, Location, CareTeam, Coverage, Appointment."""

from __future__ import annotations

import json

import pytest

from portal.fhir.api import registry
from portal.fhir.tests.test_api_resources_records import grant_for, ids, served
from portal.patients.models import Coverage, Scope
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World


def add_coverage(world: World) -> Coverage:
    Coverage.objects.create(
        patient=world.bob,
        priority="primary",
        payer_name="Bob Insurance",
        member_id="B1",
        subscriber_name="Bob",
    )
    return Coverage.objects.create(
        patient=world.alice,
        priority="primary",
        payer_name="Acme Health",
        member_id="M123",
        group_number="G9",
        subscriber_name="Alice Able",
    )


def test_practitioners_are_those_of_her_care_only(world: World) -> None:
    mine = served("Practitioner", grant_for(world.alice_user, world.alice))
    assert ids(mine) == {f"practitioner-{world.clinician.practitioner.pk}"}
    assert served("Practitioner", grant_for(world.bob_user, world.bob)) == []


def test_locations_and_care_teams(world: World) -> None:
    grant = grant_for(world.alice_user, world.alice)
    assert ids(served("Location", grant)) == {f"campus-{world.campus.pk}"}
    (team,) = served("CareTeam", grant)
    assert team["id"] == f"careteam-{world.care_team.pk}" and team["status"] == "active"
    assert (
        team["participant"][0]["member"]["reference"]
        == f"Practitioner/practitioner-{world.clinician.practitioner.pk}"
    )
    assert served("CareTeam", grant, status="active") and served("CareTeam", grant, status="inactive") == []
    assert served("CareTeam", grant, patient=f"Patient/patient-{world.alice.pk}")
    assert served("CareTeam", grant_for(world.bob_user, world.bob)) == []


def test_coverage_needs_the_billing_scope(world: World) -> None:
    coverage = add_coverage(world)
    (mine,) = served("Coverage", grant_for(world.alice_user, world.alice))
    assert mine["id"] == f"coverage-{coverage.pk}" and "Bob" not in json.dumps(mine)
    assert served("Coverage", grant_for(world.alice_user, world.alice), status="cancelled") == []
    assert Scope.BILLING not in world.proxy_grant.scopes
    assert served("Coverage", grant_for(world.proxy_user, world.alice)) == []


def test_appointments(world: World) -> None:
    sw = scheduling_world(world)
    appointment = book(sw, make_slot(sw, local_moment(world.campus, 3, 10)))
    grant = grant_for(world.alice_user, world.alice)
    (mine,) = served("Appointment", grant)
    assert mine["id"] == f"appointment-{appointment.pk}" and mine["status"] == "booked"
    assert (
        served("Appointment", grant, status="booked,arrived")
        and served("Appointment", grant, status="noshow") == []
    )
    assert (
        served("Appointment", grant, date="ge2000-01-01")
        and served("Appointment", grant, date="lt2000") == []
    )
    assert served("Appointment", grant_for(world.bob_user, world.bob)) == []
    # The appointment's practitioner and campus are readable resources.
    assert f"practitioner-{appointment.practitioner_id}" in ids(served("Practitioner", grant))
    with pytest.raises(registry.SearchError):
        served("Appointment", grant, date="soon")
