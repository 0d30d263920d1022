"""A parent of a child under 12 manages the child's other proxies; nobody else who only acts for them does."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.patients import access
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.proxies.models import ProxyInvitation
from portal.proxies.tests.conftest import years_ago
from portal.test import World, make_patient, make_user, query_count

pytestmark = pytest.mark.django_db

INVITE = {
    "name": "Gail Able",
    "email": "gail@example.org",
    "relationship": "caregiver",
    "scopes": ["view", "schedule"],
    "access_until": "",
}


def _grant(user: User, patient: Patient, relationship: str, scopes: list[str] | None = None) -> ProxyGrant:
    return ProxyGrant.objects.create(
        grantee=user,
        patient=patient,
        relationship=relationship,
        scopes=scopes if scopes is not None else list(Scope.values),
        starts_at=timezone.now() - dt.timedelta(days=1),
    )


def _invitation(patient: Patient, invited_by: User) -> ProxyInvitation:
    now = timezone.now()
    return ProxyInvitation.objects.create(
        patient=patient,
        invited_by=invited_by,
        name="Ivy Able",
        email="ivy@example.org",
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + dt.timedelta(days=14),
    )


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def parent(child: Patient) -> User:
    """Dana, Mia's parent, approved by the clinic."""
    dana = make_user("dana", first_name="Dana", last_name="Able")
    _grant(dana, child, ProxyGrant.Relationship.PARENT)
    return dana


@pytest.fixture
def caregiver_grant(child: Patient) -> ProxyGrant:
    """Gran looks after Mia after school: she sees the record and manages appointments."""
    gran = make_user("gran", first_name="Gran", last_name="Able")
    return _grant(gran, child, ProxyGrant.Relationship.CAREGIVER, [Scope.VIEW, Scope.SCHEDULE])


@pytest.fixture
def other_parent_grant(child: Patient) -> ProxyGrant:
    """Mia's other parent, also approved by the clinic."""
    lee = make_user("lee", first_name="Lee", last_name="Able")
    return _grant(lee, child, ProxyGrant.Relationship.PARENT)


@pytest.fixture
def teenager(world: World) -> Patient:
    theo = make_patient("10000015", "Theo", "Able", world.campus)
    theo.birth_date = years_ago(15)
    theo.save(update_fields=["birth_date"])
    return theo


def test_a_parent_sees_the_childs_other_proxies_and_invitations(
    client: Client,
    parent: User,
    child: Patient,
    caregiver_grant: ProxyGrant,
    other_parent_grant: ProxyGrant,
) -> None:
    _invitation(child, parent)
    client.force_login(parent)
    page = client.get(reverse("proxies:sharing")).content.decode()
    assert "Your access to Mia Able's account" in page
    assert "You manage Mia's account" in page
    assert reverse("proxies:end_own_access", args=[ProxyGrant.objects.get(grantee=parent).pk]) in page
    assert "Other people who can act for Mia" in page
    assert "Gran Able" in page and "See health record, Manage appointments" in page
    assert reverse("proxies:revoke", args=[caregiver_grant.pk]) in page
    # The other parent is listed, but only the clinic can remove them.
    assert "Lee Able" in page
    assert reverse("proxies:revoke", args=[other_parent_grant.pk]) not in page
    assert "only the clinic can remove it" in page
    # Dana's own access is at the top of the page, not in the list.
    assert "Dana" not in page[page.index("Other people who can act for Mia") :]
    assert "Ivy Able" in page and "Invitations waiting for a reply" in page
    assert reverse("proxies:invite") in page


def test_a_parent_invites_someone_to_act_for_the_child(
    client: Client, parent: User, child: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    sign_in_recently(client, parent)
    form = client.get(reverse("proxies:invite")).content.decode()
    assert "Invite someone to act for Mia" in form
    assert "They are Mia&#x27;s" in form
    assert 'value="parent"' not in form  # another parent asks the clinic, with a document
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("proxies:invite"), INVITE)
    assert response.status_code == 302, response.content.decode()
    invitation = ProxyInvitation.objects.get()
    assert invitation.patient == child and invitation.invited_by == parent and invitation.on_behalf
    email = mail.outbox[-1]
    assert email.to == ["gail@example.org"]
    assert email.subject == "Dana Able invites you to help with Mia Able's Patient Online Services account"
    assert "Dana Able manages Mia Able's account and would like you to act for Mia Able" in str(email.body)
    event = AuditEvent.objects.get(action="proxy.invite")
    assert (event.actor_id, event.actor_role, event.patient_id) == (parent.pk, "proxy", child.pk)


def test_the_invitee_sees_whose_record_they_are_asked_to_act_for(
    client: Client, parent: User, child: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    sign_in_recently(client, parent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("proxies:invite"), INVITE)
    match = re.search(r"https?://[^/\s]+(/proxies/invitations/accept/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    link = match.group(1)
    visitor = Client()
    assert "invited you to act for Mia Able in this portal" in visitor.get(link).content.decode()
    gail = make_user("gail", first_name="Gail", last_name="Able")
    sign_in_recently(visitor, gail)
    page = visitor.get(link).content.decode()
    assert "Act for Mia Able?" in page
    assert "who manages Mia's account, invited you, as Mia's Caregiver" in page
    visitor.post(link + "answer/", {"answer": "accept"})
    decided = access.decide(gail, child)
    assert decided is not None and decided.scopes == {Scope.VIEW, Scope.SCHEDULE}
    assert not decided.manages_account
    assert ProxyGrant.objects.get(grantee=gail).granted_by == parent


def test_a_parent_cannot_make_someone_a_parent_by_invitation(client: Client, parent: User) -> None:
    sign_in_recently(client, parent)
    response = client.post(reverse("proxies:invite"), {**INVITE, "relationship": "parent"})
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert not ProxyInvitation.objects.exists()


def test_nobody_shares_more_than_they_may_do(client: Client, child: Patient) -> None:
    representative = make_user("rep", first_name="Robin", last_name="Lawyer")
    _grant(representative, child, ProxyGrant.Relationship.LEGAL_REPRESENTATIVE, [Scope.VIEW])
    sign_in_recently(client, representative)
    form = client.get(reverse("proxies:invite")).content.decode()
    assert 'value="view"' in form and 'value="billing"' not in form
    response = client.post(reverse("proxies:invite"), {**INVITE, "scopes": ["view", "billing"]})
    assert response.status_code == 200
    assert not ProxyInvitation.objects.exists()


def test_a_parent_removes_a_caregiver(
    client: Client, parent: User, child: Patient, caregiver_grant: ProxyGrant
) -> None:
    sign_in_recently(client, parent)
    response = client.post(reverse("proxies:revoke", args=[caregiver_grant.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("proxies:sharing")
    assert _messages(response) == ["Gran Able can no longer use Mia's account."]
    assert access.decide(caregiver_grant.grantee, child) is None
    event = AuditEvent.objects.get(action="proxy.revoke")
    assert (event.actor_id, event.actor_role, event.patient_id) == (parent.pk, "proxy", child.pk)


def test_a_parent_removes_neither_the_other_parent_nor_themself(
    client: Client, parent: User, child: Patient, other_parent_grant: ProxyGrant
) -> None:
    own_grant = ProxyGrant.objects.get(grantee=parent)
    sign_in_recently(client, parent)
    response = client.post(reverse("proxies:revoke", args=[other_parent_grant.pk]))
    assert response.status_code == 302
    assert _messages(response)[-1] == "The clinic approved this access, so only the clinic can remove it."
    response = client.post(reverse("proxies:revoke", args=[own_grant.pk]))
    assert response.status_code == 302
    assert _messages(response)[-1] == "To end your own access, choose “Stop acting for Mia”."
    assert ProxyGrant.objects.filter(revoked_at__isnull=False).count() == 0
    assert not AuditEvent.objects.filter(action__in=["proxy.revoke", "proxy.end"]).exists()
    # The way out that exists for every proxy still works, and leaves the child's account.
    response = client.post(reverse("proxies:end_own_access", args=[own_grant.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert access.decide(parent, child) is None
    assert AuditEvent.objects.get(action="proxy.end").actor_role == "proxy"


def test_a_parent_cancels_an_invitation(client: Client, parent: User, child: Patient) -> None:
    invitation = _invitation(child, parent)
    sign_in_recently(client, parent)
    response = client.post(reverse("proxies:cancel_invitation", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == ProxyInvitation.Status.CANCELLED
    event = AuditEvent.objects.get(action="proxy.invitation_cancel")
    assert (event.actor_id, event.actor_role, event.patient_id) == (parent.pk, "proxy", child.pk)


def _assert_cannot_manage(client: Client, user: User, patient: Patient, other: ProxyGrant) -> None:
    """What every proxy who does not manage the account gets: their own access, and no changes."""
    invitation = _invitation(patient, patient.account or user)
    sign_in_recently(client, user)
    page = client.get(reverse("proxies:sharing")).content.decode()
    assert f"Your access to {patient.full_name}" in page
    assert "Only " + patient.given_name + " or the clinic can change what you can do" in page
    assert other.grantee.display_name not in page and "Ivy Able" not in page
    assert reverse("proxies:invite") not in page
    assert client.get(reverse("proxies:invite")).status_code == 403
    assert client.post(reverse("proxies:invite"), INVITE).status_code == 403
    assert client.post(reverse("proxies:revoke", args=[other.pk])).status_code == 404
    assert client.post(reverse("proxies:cancel_invitation", args=[invitation.pk])).status_code == 404
    other.refresh_from_db()
    invitation.refresh_from_db()
    assert other.revoked_at is None and invitation.status == ProxyInvitation.Status.PENDING
    assert ProxyInvitation.objects.count() == 1
    assert not AuditEvent.objects.filter(action__in=["proxy.revoke", "proxy.invite"]).exists()


def test_a_parent_of_a_teenager_does_not_manage_their_proxies(client: Client, teenager: Patient) -> None:
    parent = make_user("tess", first_name="Tess", last_name="Able")
    _grant(parent, teenager, ProxyGrant.Relationship.PARENT)
    aunt = _grant(
        make_user("aunt", first_name="Ada", last_name="Able"), teenager, ProxyGrant.Relationship.OTHER
    )
    _assert_cannot_manage(client, parent, teenager, aunt)


def test_an_adults_caregiver_does_not_manage_their_proxies(client: Client, world: World) -> None:
    spouse = _grant(make_user("sol", first_name="Sol", last_name="Able"), world.alice, "spouse", [Scope.VIEW])
    _assert_cannot_manage(client, world.proxy_user, world.alice, spouse)


def test_another_patient_gets_the_404_of_a_missing_grant(
    client: Client, world: World, parent: User, child: Patient, caregiver_grant: ProxyGrant
) -> None:
    invitation = _invitation(child, parent)
    sign_in_recently(client, world.bob_user)
    assert client.post(reverse("proxies:revoke", args=[caregiver_grant.pk])).status_code == 404
    assert client.post(reverse("proxies:cancel_invitation", args=[invitation.pk])).status_code == 404
    assert "Gran Able" not in client.get(reverse("proxies:sharing")).content.decode()
    caregiver_grant.refresh_from_db()
    invitation.refresh_from_db()
    assert caregiver_grant.revoked_at is None and invitation.status == ProxyInvitation.Status.PENDING


def test_anonymous_visitors_are_sent_to_sign_in(
    client: Client, parent: User, child: Patient, caregiver_grant: ProxyGrant
) -> None:
    invitation = _invitation(child, parent)
    for response in [
        client.get(reverse("proxies:sharing")),
        client.get(reverse("proxies:invite")),
        client.post(reverse("proxies:invite"), INVITE),
        client.post(reverse("proxies:revoke", args=[caregiver_grant.pk])),
        client.post(reverse("proxies:cancel_invitation", args=[invitation.pk])),
    ]:
        assert response.status_code == 302 and reverse("account_login") in response["Location"]
    caregiver_grant.refresh_from_db()
    assert caregiver_grant.revoked_at is None
    assert ProxyInvitation.objects.get().status == ProxyInvitation.Status.PENDING


def test_a_parents_sharing_page_runs_a_fixed_number_of_queries(
    client: Client, parent: User, child: Patient
) -> None:
    client.force_login(parent)
    url = reverse("proxies:sharing")
    client.get(url)  # the first request of a session also records the session
    one = query_count(lambda: client.get(url))
    for index in range(5):
        _grant(make_user(f"helper{index}"), child, ProxyGrant.Relationship.OTHER, [Scope.VIEW])
        _invitation(child, parent)
    six = query_count(lambda: client.get(url))
    assert six == one
