"""The patient sees and removes their proxies; proxies end their own access; staff record legal representatives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.patients import access
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.patients.tests.support import sign_in_recently
from portal.proxies.models import ProxyDocument
from portal.proxies.tests.conftest import pdf
from portal.test import World, make_user, query_count

pytestmark = pytest.mark.django_db


def test_the_patient_sees_who_acts_for_them(client: Client, world: World) -> None:
    world.proxy_grant.expires_at = timezone.now() + dt.timedelta(days=30)
    world.proxy_grant.save()
    client.force_login(world.alice_user)
    page = client.get(reverse("proxies:sharing")).content.decode()
    assert "Pat Able" in page
    assert "Caregiver" in page
    assert "See health record, Message the care team" in page
    assert "Since" in page and "until" in page


def test_revoking_takes_effect_on_the_proxys_next_request(client: Client, world: World) -> None:
    proxy = Client()
    proxy.force_login(world.proxy_user)
    assert "You are viewing Alice" in proxy.get(reverse("home")).content.decode()
    sign_in_recently(client, world.alice_user)
    response = client.post(reverse("proxies:revoke", args=[world.proxy_grant.pk]))
    assert response.status_code == 302
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is not None
    # The same signed-in session, its very next request: nothing of Alice's.
    home = proxy.get(reverse("home")).content.decode()
    assert "Alice" not in home
    assert "not linked to a patient record" in home
    assert proxy.get(reverse("audit:access_log")).status_code == 200
    assert "Alice" not in proxy.get(reverse("audit:access_log")).content.decode()
    assert access.decide(world.proxy_user, world.alice) is None
    event = AuditEvent.objects.get(action="proxy.revoke")
    assert event.actor_id == world.alice_user.pk and event.actor_role == "patient"
    assert describe("proxy.revoke") == "removed someone's access to your account"


@pytest.mark.parametrize("persona", ["proxy", "other_patient"])
def test_nobody_else_revokes_a_proxy(client: Client, world: World, persona: str) -> None:
    sign_in_recently(client, world.persona(persona))
    response = client.post(reverse("proxies:revoke", args=[world.proxy_grant.pk]))
    missing = client.post(reverse("proxies:revoke", args=[999999]))
    assert response.status_code == missing.status_code == 404
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is None


@pytest.mark.parametrize("persona", ["clinician", "unassigned_staff"])
def test_staff_have_no_patient_side_revoke(client: Client, world: World, persona: str) -> None:
    sign_in_recently(client, world.persona(persona))
    client.post(reverse("proxies:revoke", args=[world.proxy_grant.pk]))
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is None


def test_anonymous_visitors_cannot_revoke(client: Client, world: World) -> None:
    response = client.post(reverse("proxies:revoke", args=[world.proxy_grant.pk]))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is None


def test_revoking_needs_a_recent_sign_in(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("proxies:revoke", args=[world.proxy_grant.pk]))
    assert reverse("account_reauthenticate") in response["Location"]
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is None


def test_revoking_needs_post(client: Client, world: World) -> None:
    sign_in_recently(client, world.alice_user)
    assert client.get(reverse("proxies:revoke", args=[world.proxy_grant.pk])).status_code == 405


def test_a_proxy_ends_their_own_access(client: Client, world: World) -> None:
    sign_in_recently(client, world.proxy_user)
    page = client.get(reverse("proxies:sharing")).content.decode()
    assert "Your access to Alice Able" in page
    response = client.post(reverse("proxies:end_own_access", args=[world.proxy_grant.pk]))
    assert response.status_code == 302
    assert access.decide(world.proxy_user, world.alice) is None
    event = AuditEvent.objects.get(action="proxy.end")
    assert event.actor_role == "proxy" and event.patient_id == world.alice.pk


def test_a_patient_cannot_end_access_through_the_proxys_button(client: Client, world: World) -> None:
    sign_in_recently(client, world.bob_user)
    assert client.post(reverse("proxies:end_own_access", args=[world.proxy_grant.pk])).status_code == 404
    world.proxy_grant.refresh_from_db()
    assert world.proxy_grant.revoked_at is None


def test_the_sharing_page_runs_a_fixed_number_of_queries(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    url = reverse("proxies:sharing")
    client.get(url)  # the first request of a session also records the session
    one = query_count(lambda: client.get(url))
    for index in range(5):
        ProxyGrant.objects.create(
            grantee=make_user(f"helper{index}"),
            patient=world.alice,
            relationship=ProxyGrant.Relationship.OTHER,
            scopes=[Scope.VIEW],
            starts_at=timezone.now() - dt.timedelta(days=1),
        )
    six = query_count(lambda: client.get(url))
    assert six == one


@pytest.fixture
def representative(world: World) -> Any:
    return make_user("rep", first_name="Robin", last_name="Lawyer")


def _legal(client: Client, patient: Patient, **overrides: Any) -> Any:
    data = {
        "username": "rep",
        "scopes": ["view", "billing"],
        "access_until": "",
        "document": pdf("order.pdf"),
    }
    data.update(overrides)
    return client.post(reverse("proxies:staff_legal_representative", args=[patient.pk]), data)


def test_staff_record_a_legal_representative_with_a_document(
    client: Client, world: World, representative: Any
) -> None:
    sign_in_recently(client, world.clinician)
    response = _legal(client, world.alice)
    assert response.status_code == 302, response.content.decode()
    grant = ProxyGrant.objects.get(grantee=representative)
    assert grant.relationship == ProxyGrant.Relationship.LEGAL_REPRESENTATIVE
    assert grant.scope_set == {Scope.VIEW, Scope.BILLING}
    assert grant.granted_by == world.clinician
    document = ProxyDocument.objects.get()
    assert document.grant == grant and document.patient == world.alice
    decided = access.decide(representative, world.alice)
    assert decided is not None and decided.manages_account
    staff_page = client.get(reverse("staff:patient", args=[world.alice.pk])).content.decode()
    assert "Robin Lawyer" in staff_page


def test_a_legal_representative_needs_a_real_document(
    client: Client, world: World, representative: Any
) -> None:
    sign_in_recently(client, world.clinician)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = _legal(client, world.alice, document=SimpleUploadedFile("order.pdf", b"plain text"))
    assert response.status_code == 200
    assert not ProxyGrant.objects.filter(grantee=representative).exists()
    response = _legal(client, world.alice, username="nobody-here")
    assert b"No active portal account" in response.content
    assert not ProxyDocument.objects.exists()


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient", "unassigned_staff"])
def test_nobody_else_records_a_legal_representative(
    client: Client, world: World, representative: Any, persona: str
) -> None:
    sign_in_recently(client, world.persona(persona))
    assert _legal(client, world.alice).status_code == 404
    assert not ProxyGrant.objects.filter(grantee=representative).exists()
    assert not ProxyDocument.objects.exists()
