from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.test import PASSWORD, World

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified(world: World) -> None:
    for user in (world.alice_user, world.clinician):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def test_a_patient_signs_in_and_lands_on_the_dashboard(client: Client, world: World, verified: None) -> None:
    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Hello, Alice" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.sign_in")
    assert (event.actor_id, event.outcome) == (world.alice_user.pk, "success")


def test_staff_land_in_the_workspace(client: Client, world: World, verified: None) -> None:
    response = client.post(reverse("account_login"), {"login": "carol", "password": PASSWORD})
    assert response["Location"] == reverse("staff:home")


def test_a_wrong_password_is_refused_and_audited(client: Client, world: World, verified: None) -> None:
    response = client.post(reverse("account_login"), {"login": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.sign_in")
    assert (event.actor_id, event.outcome, event.detail["known_user_id"]) == (
        None,
        "failure",
        world.alice_user.pk,
    )


def test_signing_out_is_audited(client: Client, world: World, verified: None) -> None:
    client.force_login(world.alice_user)
    client.post(reverse("account_logout"))
    assert AuditEvent.objects.filter(action="auth.sign_out", actor_id=world.alice_user.pk).exists()
    assert client.get(reverse("home")).status_code == 302


def test_passwords_are_hashed_with_argon2(world: World) -> None:
    assert world.alice_user.password.startswith("argon2")


def test_open_sign_up_is_closed(client: Client) -> None:
    response = client.get(reverse("account_signup"))
    assert "closed" in response.content.decode().lower()
