"""Holes a security review found in the patient access API, each closed."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.patients.actions import do_deactivate_account
from portal.patients.models import ProxyGrant, Scope
from portal.records.models import Problem
from portal.smart.models import PatientAuthorization
from portal.smart.scopes import parse
from portal.smart.tests.oauth_support import Launch, exchange, get_code, refresh
from portal.smart.tests.support import issue_token, make_app
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
    from portal.records.tests.test_release_rules import adolescent

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


# Access ends at once, through a real launch: the access token, the refresh token and
# every token rotated from it, whatever ended the person's right to share the record.


def _launched(world: World, user: User) -> tuple[Application, dict[str, str]]:
    client = Client()
    client.force_login(user)
    app = make_app()
    launch = Launch(app)
    first = exchange(launch, get_code(client, launch)).json()
    # One rotation first: the family, not only the first refresh token, must die.
    rotated = refresh(app, first["refresh_token"]).json()
    assert "access_token" in rotated
    return app, rotated


def _refused_everywhere(world: World, app: Application, tokens: dict[str, str]) -> None:
    url = f"/fhir/r4/Patient/patient-{world.alice.pk}"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401
    response = refresh(app, tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_disconnecting_on_the_connected_apps_page_ends_a_launched_apps_tokens(world: World) -> None:
    app, tokens = _launched(world, world.alice_user)
    url = f"/fhir/r4/Patient/patient-{world.alice.pk}"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 200
    client = Client()
    client.force_login(world.alice_user)
    authorization = PatientAuthorization.objects.get()
    assert client.post(reverse("connected_apps:disconnect", args=[authorization.pk])).status_code == 302
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    _refused_everywhere(world, app, tokens)


def test_closing_the_account_ends_the_apps_it_connected(world: World) -> None:
    app, tokens = _launched(world, world.alice_user)
    do_deactivate_account(Actor(user=world.alice_user), world.alice_user)
    _refused_everywhere(world, app, tokens)


def test_a_proxy_whose_grant_is_revoked_loses_the_app_and_its_refresh(world: World) -> None:
    app, tokens = _launched(world, world.proxy_user)
    world.proxy_grant.revoked_at = timezone.now()
    world.proxy_grant.save()
    _refused_everywhere(world, app, tokens)


def test_a_proxy_whose_grant_expires_loses_the_app_and_its_refresh(world: World) -> None:
    app, tokens = _launched(world, world.proxy_user)
    world.proxy_grant.expires_at = timezone.now() - dt.timedelta(seconds=1)
    world.proxy_grant.save()
    _refused_everywhere(world, app, tokens)
