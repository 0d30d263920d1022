from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.test import World, query_count

pytestmark = pytest.mark.django_db


def test_it_lists_staff_reads_in_plain_language(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    client.get(reverse("staff:patient", args=[world.alice.pk]))
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "Carol Staff" in page
    assert "Looked at your details" in page


def test_it_lists_proxy_reads_but_not_the_patients_own(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    client.get(reverse("home"))
    client.force_login(world.proxy_user)
    client.get(reverse("home"))
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "Pat Able" in page
    assert "Alice Able (alice)" not in page


def test_it_flags_emergency_access(client: Client, world: World) -> None:
    client.force_login(world.unassigned_staff)
    client.post(
        reverse("staff:break_glass"),
        {"clinic_number": "10000001", "reason": "Unconscious in the emergency room", "confirm": "on"},
    )
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "Emergency access" in page


def test_it_shows_only_the_patients_own_log(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    client.get(reverse("staff:patient", args=[world.alice.pk]))
    client.force_login(world.bob_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "Carol Staff" not in page


def test_a_proxy_without_the_view_scope_cannot_see_it(client: Client, world: World) -> None:
    world.proxy_grant.scopes = ["billing"]
    world.proxy_grant.save()
    client.force_login(world.proxy_user)
    assert client.get(reverse("audit:access_log")).status_code == 403


def test_its_query_count_is_fixed(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    for _n in range(5):
        client.get(reverse("staff:patient", args=[world.alice.pk]))
    client.force_login(world.alice_user)
    small = query_count(lambda: client.get(reverse("audit:access_log")))
    client.force_login(world.clinician)
    for _n in range(80):
        client.get(reverse("staff:patient", args=[world.alice.pk]))
    client.force_login(world.alice_user)
    assert query_count(lambda: client.get(reverse("audit:access_log"))) == small
    assert AuditEvent.objects.filter(patient=world.alice).count() > 80
