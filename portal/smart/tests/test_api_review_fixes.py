"""Holes a security review found in the patient access API, each closed."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from portal.patients.models import ProxyGrant, Scope
from portal.records.models import Problem
from portal.smart.scopes import parse
from portal.smart.tests.support import issue_token
from portal.test import World

SNEAKY = (
    "patient/Observation.rs?category=x%20patient/*.rs%20patient/Observation.rs?category=http://x%7Claboratory"
)


def test_an_encoded_space_cannot_smuggle_an_unrestricted_scope() -> None:
    scopes = parse(f"launch/patient {SNEAKY}")
    assert not scopes.allows("Condition", "search")
    assert all("patient/*" not in scope.text() for scope in scopes.resources)


def test_a_granular_scope_round_trips_through_its_text() -> None:
    lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    scopes = parse(lab)
    again = parse(scopes.text())
    assert again.resources == scopes.resources and len(again.resources) == 1


def test_a_proxy_who_is_also_staff_loses_the_app_when_the_grant_ends(world: World) -> None:
    grant = ProxyGrant.objects.create(
        grantee=world.clinician,
        patient=world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=2),
    )
    token = issue_token(world.clinician, world.alice)
    url = f"/fhir/r4/Patient/patient-{world.alice.pk}"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    grant.expires_at = timezone.now() - dt.timedelta(minutes=1)
    grant.save()
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_everything_lists_only_types_the_token_may_search(world: World) -> None:
    Problem.objects.create(patient=world.alice, name="Asthma", recorded_on=dt.date(2025, 1, 1))
    token = issue_token(
        world.alice_user, world.alice, "launch/patient patient/Patient.rs patient/Condition.r"
    )
    response = Client().get(
        f"/fhir/r4/Patient/patient-{world.alice.pk}/$everything", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    kinds = {entry["resource"]["resourceType"] for entry in response.json().get("entry", [])}
    assert "Condition" not in kinds and "Patient" in kinds


def test_a_teens_parent_sees_and_disconnects_only_the_apps_they_connected(world: World) -> None:
    from django.urls import reverse

    from portal.records.tests.test_release_rules import adolescent
    from portal.smart.models import PatientAuthorization

    teen, tess, parent = adolescent(world)
    issue_token(tess, teen)
    issue_token(parent, teen)
    teens, parents = (PatientAuthorization.objects.get(user=user) for user in (tess, parent))
    client = Client()
    client.force_login(parent)
    assert client.post(reverse("connected_apps:disconnect", args=[teens.pk])).status_code == 404
    assert client.post(reverse("connected_apps:disconnect", args=[parents.pk])).status_code == 302
    teens.refresh_from_db()
    assert teens.revoked_at is None
