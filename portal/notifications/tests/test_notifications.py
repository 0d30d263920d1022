from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.notifications.models import Notification, Task
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(world: World) -> Notification:
    return Notification.objects.create(
        recipient=world.alice_user, patient=world.alice, title="Your letter is ready", link="/record-access/"
    )


def test_opening_a_notification_marks_it_read_and_follows_its_link(
    client: Client, world: World, note: Notification
) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/record-access/"
    note.refresh_from_db()
    assert note.read_at is not None


@pytest.mark.parametrize("persona", ["proxy", "other_patient", "clinician", "unassigned_staff"])
def test_nobody_else_can_open_it(client: Client, world: World, note: Notification, persona: str) -> None:
    client.force_login(world.persona(persona))
    response = client.post(reverse("notifications:open", args=[note.pk]))
    missing = client.post(reverse("notifications:open", args=[999999]))
    assert_same_as_missing(response, missing)
    note.refresh_from_db()
    assert note.read_at is None


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World, note: Notification) -> None:
    response = client.post(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_a_refused_lookup_is_audited(client: Client, world: World, note: Notification) -> None:
    client.force_login(world.bob_user)
    client.post(reverse("notifications:open", args=[note.pk]))
    refusal = AuditEvent.objects.get(action="access.refused")
    assert refusal.actor_id == world.bob_user.pk
    assert refusal.outcome == "denied"


def test_opening_needs_post(client: Client, world: World, note: Notification) -> None:
    client.force_login(world.alice_user)
    assert client.get(reverse("notifications:open", args=[note.pk])).status_code == 405
    note.refresh_from_db()
    assert note.read_at is None


def test_offsite_links_are_not_followed(client: Client, world: World) -> None:
    note = Notification.objects.create(
        recipient=world.alice_user, patient=world.alice, title="x", link="https://evil.example/"
    )
    client.force_login(world.alice_user)
    response = client.post(reverse("notifications:open", args=[note.pk]))
    assert response["Location"] == reverse("notifications:list")


def test_the_list_shows_only_the_users_own_notifications(
    client: Client, world: World, note: Notification
) -> None:
    Notification.objects.create(recipient=world.proxy_user, patient=world.alice, title="For the proxy")
    client.force_login(world.alice_user)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "Your letter is ready" in page
    assert "For the proxy" not in page


def test_the_list_pages_by_keyset_with_fixed_queries(client: Client, world: World) -> None:
    Notification.objects.bulk_create(
        Notification(recipient=world.alice_user, patient=world.alice, title=f"note {n}") for n in range(60)
    )
    client.force_login(world.alice_user)
    first = client.get(reverse("notifications:list"))
    assert "note 59" in first.content.decode()
    assert "note 34" not in first.content.decode()
    cursor = Notification.objects.order_by("-pk")[24].pk
    second = client.get(reverse("notifications:list"), {"before": cursor}).content.decode()
    assert "note 34" in second and "note 35" not in second
    small = query_count(lambda: client.get(reverse("notifications:list")))
    Notification.objects.bulk_create(
        Notification(recipient=world.alice_user, patient=world.alice, title="more") for _n in range(300)
    )
    assert query_count(lambda: client.get(reverse("notifications:list"))) == small
    assert client.get(reverse("notifications:list"), {"before": "nonsense"}).status_code == 200


def test_mark_all_read(client: Client, world: World, note: Notification) -> None:
    client.force_login(world.alice_user)
    client.post(reverse("notifications:read_all"))
    note.refresh_from_db()
    assert note.read_at is not None


def test_completing_a_task_is_audited(client: Client, world: World) -> None:
    task = Task.objects.create(patient=world.alice, title="Confirm your contact details")
    client.force_login(world.proxy_user)
    client.post(reverse("notifications:complete_task", args=[task.pk]))
    task.refresh_from_db()
    assert task.completed_at is not None
    event = AuditEvent.objects.get(action="task.complete")
    assert (event.actor_id, event.actor_role, event.patient_id) == (
        world.proxy_user.pk,
        "proxy",
        world.alice.pk,
    )


@pytest.mark.parametrize("persona", ["other_patient", "clinician", "unassigned_staff"])
def test_strangers_cannot_complete_a_task(client: Client, world: World, persona: str) -> None:
    task = Task.objects.create(patient=world.alice, title="Confirm your contact details")
    client.force_login(world.persona(persona))
    response = client.post(reverse("notifications:complete_task", args=[task.pk]))
    assert response.status_code in (302, 404)
    task.refresh_from_db()
    assert task.completed_at is None
