"""Developers register apps; bad redirect URIs are refused with a clear message; secrets are shown once."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.smart.actions import do_approve_app
from portal.smart.models import AppRegistration
from portal.test import World, query_count

HOME = reverse("developers:home")


def _form(**changes: str) -> dict[str, str]:
    return {
        "name": "Step Counter",
        "description": "Counts steps and reads your vital signs.",
        "homepage": "https://steps.example",
        "redirect_uris": "https://steps.example/cb\nhttp://127.0.0.1:8765/cb",
        "client_type": "public",
    } | changes


def _client(world: World, persona: str = "other_patient") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    assert Client().get(HOME).status_code == 302
    assert Client().post(HOME, _form()).status_code == 302
    assert not AppRegistration.objects.exists()


@pytest.mark.parametrize("persona", ["patient", "proxy", "clinician"])
def test_anyone_signed_in_registers_an_app(world: World, persona: str) -> None:
    client = _client(world, persona)
    response = client.post(HOME, _form())
    assert response.status_code == 302
    registration = AppRegistration.objects.get()
    assert registration.status == AppRegistration.Status.PENDING
    assert registration.developer == world.persona(persona)
    assert registration.redirect_uris.splitlines() == ["https://steps.example/cb", "http://127.0.0.1:8765/cb"]
    assert AuditEvent.objects.filter(action="smart.app_register", patient__isnull=True).count() == 1
    page = client.get(HOME).content.decode()
    assert "Step Counter" in page and "Waiting for approval" in page


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ("http://steps.example/cb", "must use https"),
        ("https://steps.example/cb#frag", "fragment"),
        ("ftp://steps.example/cb", "full https:// address"),
        ("steps.example/cb", "full https:// address"),
        ("https://user:pw@steps.example/cb", "user name or password"),
        ("https://steps.example:99999/cb", "not a valid address"),
        ("  \n \n", "at least one redirect URI"),
        ("\n".join(f"https://steps.example/cb{n}" for n in range(11)), "at most 10"),
        ("https://" + "a" * 600 + ".example/cb", "longer than"),
        ("http://10.0.0.1/cb", "must use https"),
    ],
)
def test_bad_redirect_uris_are_refused(world: World, uris: str, message: str) -> None:
    response = _client(world).post(HOME, _form(redirect_uris=uris))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AppRegistration.objects.exists()


@pytest.mark.parametrize(
    "uri", ["http://localhost:3000/cb", "http://[::1]:8080/cb", "https://app.example/a?x=1"]
)
def test_loopback_and_https_uris_are_accepted(world: World, uri: str) -> None:
    assert _client(world).post(HOME, _form(redirect_uris=uri)).status_code == 302


def test_other_fields_are_checked(world: World) -> None:
    response = _client(world).post(
        HOME, _form(name="  ", homepage="http://steps.example", client_type="secretive", description="")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "https://" in body and "There is a problem" in body
    assert not AppRegistration.objects.exists()


def test_a_developer_sees_only_their_own_apps(world: World) -> None:
    _client(world, "patient").post(HOME, _form(name="Alice's App"))
    page = _client(world, "other_patient").get(HOME).content.decode()
    assert "Alice&#x27;s App" not in page and "Alice's App" not in page


def _approved(world: World, client_type: str) -> AppRegistration:
    _client(world).post(HOME, _form(client_type=client_type))
    registration = AppRegistration.objects.get()
    do_approve_app(Actor(world.admin), registration)
    registration.refresh_from_db()
    return registration


def test_an_approved_app_shows_its_client_id(world: World) -> None:
    registration = _approved(world, "public")
    assert registration.application is not None
    page = _client(world).get(HOME).content.decode()
    assert registration.application.client_id in page
    assert "Create a new secret" not in page


def test_a_confidential_app_gets_a_new_secret_shown_once(world: World) -> None:
    registration = _approved(world, "confidential")
    client = _client(world)
    assert "Create a new secret" in client.get(HOME).content.decode()
    response = client.post(reverse("developers:new_secret", args=[registration.pk]))
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert registration.application is not None
    registration.application.refresh_from_db()
    assert registration.application.client_secret != secret
    assert check_password(secret, registration.application.client_secret)
    assert secret not in client.get(HOME).content.decode()
    assert AuditEvent.objects.filter(action="smart.app_secret").count() == 1


def test_nobody_else_can_rotate_the_secret(world: World) -> None:
    registration = _approved(world, "confidential")
    for persona in ("patient", "admin"):
        response = _client(world, persona).post(reverse("developers:new_secret", args=[registration.pk]))
        assert response.status_code == 404
    assert Client().post(reverse("developers:new_secret", args=[registration.pk])).status_code == 302
    assert _client(world).get(reverse("developers:new_secret", args=[registration.pk])).status_code == 405


def test_a_public_or_pending_app_has_no_secret(world: World) -> None:
    registration = _approved(world, "public")
    response = _client(world).post(reverse("developers:new_secret", args=[registration.pk]))
    assert response.status_code == 409
    _client(world).post(HOME, _form(client_type="confidential", name="Second"))
    pending = AppRegistration.objects.get(name="Second")
    assert _client(world).post(reverse("developers:new_secret", args=[pending.pk])).status_code == 409


def test_the_list_runs_a_bounded_number_of_queries(world: World) -> None:
    client = _client(world)
    client.post(HOME, _form())
    small = query_count(lambda: client.get(HOME))
    for n in range(5):
        client.post(HOME, _form(name=f"App {n}"))
    do_approve_app(Actor(world.admin), AppRegistration.objects.get(name="App 0"))
    assert query_count(lambda: client.get(HOME)) == small
