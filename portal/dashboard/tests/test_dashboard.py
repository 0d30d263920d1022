from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.notifications.models import Notification, Task
from portal.patients.models import ProxyGrant, Scope
from portal.test import World, make_patient, query_count

pytestmark = pytest.mark.django_db


def _dashboard(client: Client) -> str:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def test_it_greets_the_patient_and_audits_the_read(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    page = _dashboard(client)
    assert "Hello, Alice" in page
    assert "10000001" in page
    events = AuditEvent.objects.filter(action="dashboard.view")
    assert [(e.actor_id, e.patient_id, e.actor_role) for e in events] == [
        (world.alice_user.pk, world.alice.pk, "patient")
    ]


def test_it_sends_anonymous_visitors_to_sign_in(client: Client, world: World) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_it_shows_the_proxy_whose_account_they_view(client: Client, world: World) -> None:
    client.force_login(world.proxy_user)
    page = _dashboard(client)
    assert "Alice Able" in page
    event = AuditEvent.objects.get(action="dashboard.view")
    assert event.actor_role == "proxy"


def test_it_shows_tasks_and_unread_notifications(client: Client, world: World) -> None:
    Task.objects.create(patient=world.alice, title="Confirm your contact details")
    Notification.objects.create(recipient=world.alice_user, patient=world.alice, title="A new message")
    Notification.objects.create(recipient=world.alice_user, patient=world.bob, title="Someone else's news")
    client.force_login(world.alice_user)
    page = _dashboard(client)
    assert "Confirm your contact details" in page
    assert "A new message" in page
    assert "Someone else" not in page


def test_it_hides_cards_with_nothing_to_show(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    page = _dashboard(client)
    assert "To do" not in page
    assert "Notifications</h2>" not in page


def test_the_switcher_changes_patient_only_to_someone_allowed(client: Client, world: World) -> None:
    child = make_patient("10000009", "Casey", "Able", world.campus)
    ProxyGrant.objects.create(
        grantee=world.alice_user, patient=child, relationship="parent", scopes=[Scope.VIEW]
    )
    client.force_login(world.alice_user)
    assert "Switch to" in _dashboard(client)
    client.post(reverse("switch_patient"), {"patient": child.pk})
    assert "Casey Able" in _dashboard(client)
    client.post(reverse("switch_patient"), {"patient": world.bob.pk})
    page = _dashboard(client)
    assert "Bob Baker" not in page
    assert "Casey Able" in page


def test_the_switcher_ignores_offsite_redirects(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(
        reverse("switch_patient"), {"patient": world.alice.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_staff_without_a_record_land_in_the_workspace(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:home")


def test_a_user_with_no_patient_gets_an_explanation(client: Client, world: World) -> None:
    world.proxy_grant.delete()
    client.force_login(world.proxy_user)
    assert "not linked to a patient record" in _dashboard(client)


def test_query_count_does_not_grow_with_history(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    client.get(reverse("home"))
    small = query_count(lambda: client.get(reverse("home")))
    Notification.objects.bulk_create(
        Notification(recipient=world.alice_user, patient=world.alice, title=f"n{n}") for n in range(200)
    )
    Task.objects.bulk_create(Task(patient=world.alice, title=f"t{n}") for n in range(50))
    before_cards = small
    large = query_count(lambda: client.get(reverse("home")))
    # The two cards that appear cost a fixed number of queries between them.
    assert large <= before_cards + 2
    Notification.objects.bulk_create(
        Notification(recipient=world.alice_user, patient=world.alice, title=f"m{n}") for n in range(500)
    )
    assert query_count(lambda: client.get(reverse("home"))) == large


def test_an_expired_grant_stops_working_mid_session(client: Client, world: World) -> None:
    import datetime as dt

    from django.utils import timezone

    client.force_login(world.proxy_user)
    assert "Alice Able" in _dashboard(client)
    world.proxy_grant.expires_at = timezone.now() - dt.timedelta(seconds=1)
    world.proxy_grant.save()
    page = _dashboard(client)
    assert "Alice Able" not in page
    assert "not linked to a patient record" in page
