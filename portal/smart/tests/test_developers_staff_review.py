"""Administrators approve, turn down and suspend apps; nobody else sees the page."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from oauth2_provider.models import Application

from portal.audit.models import AuditEvent
from portal.fhir.api.auth import ApiError, authenticate
from portal.organization.models import Practitioner
from portal.smart.models import AppRegistration, PatientAuthorization
from portal.smart.tests.support import issue_token
from portal.test import World, make_staff, query_count

LIST = reverse("staff_apps:list")


def _pending(world: World, name: str = "Step Counter", client_type: str = "confidential") -> AppRegistration:
    return AppRegistration.objects.create(
        developer=world.bob_user,
        name=name,
        description="Counts steps.",
        homepage="https://steps.example",
        redirect_uris="https://steps.example/cb\nhttp://127.0.0.1:8765/cb",
        client_type=client_type,
    )


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_administrators_see_pending_apps(world: World) -> None:
    _pending(world)
    administrator = make_staff("ada", Practitioner.Role.ADMINISTRATOR)
    for user in (world.admin, administrator):
        response = _client(user).get(LIST)
        assert response.status_code == 200
        assert b"Step Counter" in response.content
        assert reverse("staff_apps:list").encode() in response.content  # the nav link


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff", "patient", "proxy"])
def test_everyone_else_gets_a_404(world: World, persona: str) -> None:
    registration = _pending(world)
    client = _client(world.persona(persona))
    assert client.get(LIST).status_code == 404
    assert client.post(reverse("staff_apps:approve", args=[registration.pk])).status_code == 404
    registration.refresh_from_db()
    assert registration.status == AppRegistration.Status.PENDING


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    registration = _pending(world)
    assert Client().get(LIST).status_code == 302
    assert Client().post(reverse("staff_apps:approve", args=[registration.pk])).status_code == 302


def test_approving_creates_a_working_client(world: World) -> None:
    registration = _pending(world)
    response = _client(world.admin).post(reverse("staff_apps:approve", args=[registration.pk]))
    assert response.status_code == 302
    registration.refresh_from_db()
    application = registration.application
    assert registration.status == AppRegistration.Status.APPROVED
    assert registration.reviewed_by == world.admin
    assert application is not None
    assert application.client_type == Application.CLIENT_CONFIDENTIAL
    assert application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert application.algorithm == Application.RS256_ALGORITHM
    assert application.user == world.bob_user
    assert application.redirect_uri_allowed("https://steps.example/cb")
    assert application.redirect_uri_allowed("http://127.0.0.1:8765/cb")
    assert not application.redirect_uri_allowed("https://steps.example/cb/other")
    token = issue_token(world.alice_user, world.alice, app=application)
    request = RequestFactory().get("/fhir/r4/Patient", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert authenticate(request).patient == world.alice
    event = AuditEvent.objects.get(action="smart.app_approve")
    assert event.patient_id is None and event.actor_id == world.admin.pk
    assert _client(world.admin).post(reverse("staff_apps:approve", args=[registration.pk])).status_code == 409
    assert Application.objects.count() == 1


def test_rejecting_needs_a_reason(world: World) -> None:
    registration = _pending(world)
    client = _client(world.admin)
    url = reverse("staff_apps:reject", args=[registration.pk])
    assert client.post(url, {"note": "   "}).status_code == 400
    registration.refresh_from_db()
    assert registration.status == AppRegistration.Status.PENDING
    assert client.post(url, {"note": "No privacy policy."}).status_code == 302
    registration.refresh_from_db()
    assert registration.status == AppRegistration.Status.REJECTED
    assert registration.review_note == "No privacy policy."
    assert registration.application is None
    assert AuditEvent.objects.filter(action="smart.app_reject", patient__isnull=True).count() == 1
    developer = _client(world.bob_user).get(reverse("developers:home")).content.decode()
    assert "No privacy policy." in developer and "Rejected" in developer


def test_bad_ids_are_404s(world: World) -> None:
    client = _client(world.admin)
    assert client.post(reverse("staff_apps:approve", args=[999999])).status_code == 404
    assert client.post("/staff/apps/abc/approve/").status_code == 404
    assert client.get(reverse("staff_apps:approve", args=[1])).status_code == 405


def test_suspending_disconnects_every_patient(world: World) -> None:
    registration = _pending(world)
    client = _client(world.admin)
    client.post(reverse("staff_apps:approve", args=[registration.pk]))
    registration.refresh_from_db()
    application = registration.application
    assert application is not None
    tokens = [
        issue_token(world.alice_user, world.alice, app=application),
        issue_token(world.bob_user, world.bob, app=application),
    ]
    page = client.get(LIST).content.decode()
    assert "<td>2</td>" in page
    response = client.post(reverse("staff_apps:suspend", args=[registration.pk]), {"note": "Leaked data."})
    assert response.status_code == 302
    assert not PatientAuthorization.objects.filter(revoked_at__isnull=True).exists()
    for token in tokens:
        with pytest.raises(ApiError):
            authenticate(RequestFactory().get("/fhir/r4/Patient", HTTP_AUTHORIZATION=f"Bearer {token}"))
    application.refresh_from_db()
    assert application.redirect_uris == ""
    registration.refresh_from_db()
    assert registration.status == AppRegistration.Status.REJECTED
    assert set(AuditEvent.objects.filter(action="smart.revoke").values_list("patient_id", flat=True)) == {
        world.alice.pk,
        world.bob.pk,
    }


def test_the_list_runs_a_bounded_number_of_queries(world: World) -> None:
    client = _client(world.admin)
    first = _pending(world, "App 0")
    client.post(reverse("staff_apps:approve", args=[first.pk]))
    _pending(world, "Pending 0")
    small = query_count(lambda: client.get(LIST))
    for n in range(1, 5):
        registration = _pending(world, f"App {n}")
        client.post(reverse("staff_apps:approve", args=[registration.pk]))
        _pending(world, f"Pending {n}")
    first.refresh_from_db()
    assert first.application is not None
    issue_token(world.alice_user, world.alice, app=first.application)
    assert query_count(lambda: client.get(LIST)) == small
