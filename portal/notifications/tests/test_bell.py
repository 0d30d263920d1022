"""The bell in the header: unread notifications about the patient being viewed, on patient
pages; the staff bell in the workspace; each one capped, cheap query."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.notifications.models import Notification
from portal.patients.models import Patient
from portal.patients.selection import SESSION_KEY
from portal.test import World, captured_queries, make_patient

pytestmark = pytest.mark.django_db

BELL = re.compile(r'<a href="(?P<href>[^"]+)" class="bell"[^>]*>(?P<inside>.*?)</a>', re.DOTALL)


def notify(
    world: World,
    count: int,
    *,
    recipient: User | None = None,
    patient: Patient | None = None,
    **fields: object,
) -> None:
    Notification.objects.bulk_create(
        Notification(
            recipient=recipient or world.alice_user,
            patient=patient if patient is not None else world.alice,
            title=f"News {number}",
            **fields,
        )
        for number in range(count)
    )


def bell(page: bytes) -> tuple[str, str]:
    """The bell's address and its accessible name (the text a screen reader announces)."""
    found = BELL.search(page.decode())
    assert found is not None, "no bell on the page"
    inside = re.sub(r'<span aria-hidden="true">.*?</span></span>', "", found["inside"], flags=re.DOTALL)
    return found["href"], " ".join(re.sub(r"<[^>]+>", " ", inside).split())


def test_the_bell_counts_unread_notifications_with_an_accessible_name(client: Client, world: World) -> None:
    notify(world, 3)
    notify(world, 2, read_at=timezone.now())
    client.force_login(world.alice_user)
    page = client.get(reverse("home")).content
    assert bell(page) == (reverse("notifications:list"), "Notifications, 3 unread")
    assert b'<span class="badge">3</span>' in page
    assert b'bell.svg" alt="" width="18" height="18">' in page  # the icon is decoration


def test_one_unread_and_none_unread(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    assert bell(client.get(reverse("home")).content)[1] == "Notifications"
    notify(world, 1)
    assert bell(client.get(reverse("home")).content)[1] == "Notifications, 1 unread"


def test_the_count_stops_at_nine(client: Client, world: World) -> None:
    notify(world, 40)
    client.force_login(world.alice_user)
    page = client.get(reverse("home")).content
    assert bell(page)[1] == "Notifications, more than 9 unread"
    assert b'<span class="badge">9+</span>' in page


def test_the_bell_counts_only_the_users_own_notifications_about_the_patient_viewed(
    client: Client, world: World
) -> None:
    notify(world, 2)
    notify(world, 5, recipient=world.proxy_user)  # Pat's own unread state
    notify(world, 4, for_staff=True)  # staff work is never counted on patient pages
    client.force_login(world.alice_user)
    assert bell(client.get(reverse("home")).content)[1] == "Notifications, 2 unread"
    client.force_login(world.proxy_user)
    assert bell(client.get(reverse("home")).content)[1] == "Notifications, 5 unread"


def test_a_proxy_sees_the_count_for_the_patient_they_are_viewing(client: Client, world: World) -> None:
    from portal.patients.models import ProxyGrant, Scope

    child = make_patient("10000041", "Kit", "Able", world.campus)
    ProxyGrant.objects.create(
        grantee=world.proxy_user,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now(),
    )
    notify(world, 1, recipient=world.proxy_user)
    notify(world, 6, recipient=world.proxy_user, patient=child)
    client.force_login(world.proxy_user)
    session = client.session
    session[SESSION_KEY] = child.pk
    session.save()
    assert bell(client.get(reverse("home")).content)[1] == "Notifications, 6 unread"


def test_the_bell_costs_one_query_whatever_the_count(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    client.get(reverse("home"))
    notify(world, 200)
    with captured_queries() as queries:
        client.get(reverse("notifications:list"))
    counting = [query["sql"] for query in queries.captured_queries if "LIMIT 10" in query["sql"]]
    assert len(counting) == 1
    assert '"read_at" IS NULL' in counting[0] and '"for_staff"' in counting[0]


def test_no_bell_count_off_patient_pages_or_for_visitors(client: Client, world: World) -> None:
    notify(world, 3)
    assert BELL.search(client.get(reverse("account_login")).content.decode()) is None
    client.force_login(world.alice_user)
    # Account settings are not a patient page: the link is there, with no count worked out.
    assert bell(client.get(reverse("accounts:security")).content)[1] == "Notifications"


# The staff bell ----------------------------------------------------------------------------


def test_the_staff_bell_counts_unread_staff_notifications(client: Client, world: World) -> None:
    notify(world, 4, recipient=world.clinician, for_staff=True)
    notify(world, 1, recipient=world.clinician, patient=None, for_staff=True)
    notify(world, 3, recipient=world.clinician, for_staff=True, read_at=timezone.now())
    client.force_login(world.clinician)
    page = client.get(reverse("staff:home")).content
    assert bell(page) == (reverse("staff_notifications:list"), "Notifications, 5 unread")


def test_the_staff_bell_ignores_patient_side_notifications(client: Client, world: World) -> None:
    # Carol is also a patient here: her patient-side news is not work.
    carol = make_patient("10000051", "Carol", "Staff", world.campus, account=world.clinician)
    notify(world, 2, recipient=world.clinician, patient=carol)
    client.force_login(world.clinician)
    assert bell(client.get(reverse("staff:home")).content)[1] == "Notifications"
    assert bell(client.get(reverse("home")).content) == (
        reverse("notifications:list"),
        "Notifications, 2 unread",
    )
