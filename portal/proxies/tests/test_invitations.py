"""A patient invites an adult by email; the invitee accepts with their own account."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.patients import access
from portal.patients.models import ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.proxies.models import ProxyInvitation
from portal.test import World, make_user

pytestmark = pytest.mark.django_db

INVITE = {
    "name": "Sam Able",
    "email": "sam@example.org",
    "relationship": "spouse",
    "scopes": ["view", "schedule"],
    "access_until": "",
}


@pytest.fixture
def invitee(world: World) -> Any:
    return make_user("sasha", first_name="Sasha", last_name="Able")


def _invite(world: World, django_capture_on_commit_callbacks: Any, **overrides: Any) -> str:
    """Alice invites Sam; returns the accept link's path from the email."""
    client = Client()
    sign_in_recently(client, world.alice_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("proxies:invite"), {**INVITE, **overrides})
    assert response.status_code == 302, response.content.decode()
    match = re.search(r"https?://[^/\s]+(/proxies/invitations/accept/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def _answer(client: Client, link: str, answer: str = "accept") -> Any:
    return client.post(link + "answer/", {"answer": answer})


def test_the_invitee_accepts_and_acts_for_the_patient(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks, access_until="2099-12-31")
    assert mail.outbox[-1].to == ["sam@example.org"]
    assert access.decide(invitee, world.alice) is None
    sign_in_recently(client, invitee)
    page = client.get(link)
    assert page.status_code == 200
    assert "Act for Alice Able?" in page.content.decode()
    response = _answer(client, link)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    grant = ProxyGrant.objects.get(grantee=invitee)
    assert grant.patient == world.alice
    assert grant.scope_set == {Scope.VIEW, Scope.SCHEDULE}
    assert grant.relationship == ProxyGrant.Relationship.SPOUSE
    assert grant.granted_by == world.alice_user
    # Until the end of 31 December 2099 at the patient's campus (Central time).
    assert grant.expires_at == dt.datetime(2100, 1, 1, 6, tzinfo=dt.UTC)
    decided = access.decide(invitee, world.alice)
    assert decided is not None and decided.scopes == {Scope.VIEW, Scope.SCHEDULE}
    assert "Hello, Sasha. You are viewing Alice" in client.get(reverse("home")).content.decode()
    invitation = ProxyInvitation.objects.get()
    assert invitation.status == ProxyInvitation.Status.ACCEPTED and invitation.grant == grant
    actions = list(AuditEvent.objects.filter(patient=world.alice.pk).values_list("action", flat=True))
    assert {"proxy.invite", "proxy.grant", "proxy.invitation_accept"} <= set(actions)


def test_a_link_works_once(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    sign_in_recently(client, invitee)
    _answer(client, link)
    other = make_user("mallory")
    sign_in_recently(client, other)
    assert client.get(link).status_code == 410
    assert _answer(client, link).status_code == 410
    assert list(
        ProxyGrant.objects.filter(patient=world.alice)
        .values_list("grantee__username", flat=True)
        .order_by("grantee__username")
    ) == ["pat", "sasha"]


def test_a_link_expires_after_14_days(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + dt.timedelta(days=14, minutes=1), tick=False):
        sign_in_recently(client, invitee)
        assert client.get(link).status_code in (404, 410)
        assert _answer(client, link).status_code in (404, 410)
    assert not ProxyGrant.objects.filter(grantee=invitee).exists()


def test_a_tampered_link_is_not_found(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    sign_in_recently(client, invitee)
    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    assert client.get(tampered).status_code == 404
    assert client.get("/proxies/invitations/accept/nonsense/").status_code == 404
    assert _answer(client, tampered).status_code == 404
    assert not ProxyGrant.objects.filter(grantee=invitee).exists()


def test_a_visitor_is_asked_to_sign_in_or_create_an_account(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    page = client.get(link).content.decode()
    assert f"{reverse('account_login')}?next=" in page
    assert 'href="/register/"' in page
    response = _answer(client, link)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert ProxyInvitation.objects.get().status == ProxyInvitation.Status.PENDING


def test_the_patient_cannot_accept_their_own_invitation(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    sign_in_recently(client, world.alice_user)
    response = _answer(client, link)
    assert response.status_code == 302
    assert ProxyInvitation.objects.get().status == ProxyInvitation.Status.PENDING
    assert not ProxyGrant.objects.filter(grantee=world.alice_user).exists()


def test_declining_closes_the_invitation(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    sign_in_recently(client, invitee)
    _answer(client, link, "decline")
    assert ProxyInvitation.objects.get().status == ProxyInvitation.Status.DECLINED
    assert client.get(link).status_code == 410


def test_a_cancelled_invitation_stops_working(
    client: Client, world: World, invitee: Any, django_capture_on_commit_callbacks: Any
) -> None:
    link = _invite(world, django_capture_on_commit_callbacks)
    sign_in_recently(client, world.alice_user)
    invitation = ProxyInvitation.objects.get()
    client.post(reverse("proxies:cancel_invitation", args=[invitation.pk]))
    sign_in_recently(client, invitee)
    assert client.get(link).status_code == 410
    assert not ProxyGrant.objects.filter(grantee=invitee).exists()


def test_only_the_patient_invites(client: Client, world: World) -> None:
    sign_in_recently(client, world.proxy_user)
    response = client.post(reverse("proxies:invite"), INVITE)
    assert response.status_code == 403
    assert not ProxyInvitation.objects.exists()


BAD_INVITES: list[dict[str, Any]] = [
    {"email": "not-an-address"},
    {"scopes": []},
    {"scopes": ["everything"]},
    {"relationship": "legal"},
    {"access_until": "2001-01-01"},
    {"access_until": "tomorrow-ish"},
    {"access_until": "9999-12-31"},
    {"name": "x" * 1000},
    {"email": "a@" + "b" * 300 + ".org"},
    {"name": ""},
]


@pytest.mark.parametrize("bad", BAD_INVITES)
def test_bad_input_sends_nothing(client: Client, world: World, bad: dict[str, Any]) -> None:
    sign_in_recently(client, world.alice_user)
    response = client.post(reverse("proxies:invite"), {**INVITE, **bad})
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert not ProxyInvitation.objects.exists()
    assert mail.outbox == []


def test_inviting_needs_a_recent_sign_in(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("proxies:invite"), INVITE)
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not ProxyInvitation.objects.exists()


@pytest.mark.parametrize("persona", ["proxy", "other_patient", "clinician"])
def test_nobody_else_cancels_an_invitation(
    client: Client, world: World, persona: str, django_capture_on_commit_callbacks: Any
) -> None:
    _invite(world, django_capture_on_commit_callbacks)
    invitation = ProxyInvitation.objects.get()
    sign_in_recently(client, world.persona(persona))
    response = client.post(reverse("proxies:cancel_invitation", args=[invitation.pk]))
    assert response.status_code in (404, 302)
    if response.status_code == 302:  # staff have no patient side: sent to their workspace
        assert response["Location"] == reverse("staff:home")
    assert ProxyInvitation.objects.get().status == ProxyInvitation.Status.PENDING
