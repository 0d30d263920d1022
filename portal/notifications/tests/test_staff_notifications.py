"""Staff notifications in the workspace (/staff/notifications/): each member of staff sees
and opens only their own; the patient side never shows them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.messaging.tests.support import messaging_world, start_thread
from portal.notifications.models import Notification
from portal.test import World, assert_same_as_missing, make_patient, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture
def work(world: World) -> Notification:
    return Notification.objects.create(
        recipient=world.clinician,
        patient=world.alice,
        for_staff=True,
        title="New message in Family Medicine, Rochester: Medical question",
        link="/staff/inbox/",
    )


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_the_list_shows_the_users_own_staff_notifications(
    client: Client, world: World, work: Notification
) -> None:
    Notification.objects.create(recipient=world.scheduler, for_staff=True, title="For the desk")
    Notification.objects.create(
        recipient=world.clinician, patient=world.alice, title="Carol's patient-side news"
    )
    page = signed_in(client, world.clinician).get(reverse("staff_notifications:list")).content.decode()
    assert work.title in page
    assert "For the desk" not in page and "patient-side news" not in page


def test_a_new_message_reaches_the_pools_list(client: Client, world: World) -> None:
    messaging_world(world)
    start_thread(world)
    page = signed_in(client, world.clinician).get(reverse("staff_notifications:list")).content.decode()
    assert "New message in Family Medicine, Rochester" in page


def test_opening_marks_read_and_follows_the_link(client: Client, world: World, work: Notification) -> None:
    response = signed_in(client, world.clinician).post(reverse("staff_notifications:open", args=[work.pk]))
    assert response.status_code == 302 and response["Location"] == "/staff/inbox/"
    work.refresh_from_db()
    assert work.read_at is not None
    event = AuditEvent.objects.get(action="notification.staff_read")
    assert event.actor_id == world.clinician.pk and event.patient_id is None


def test_opening_needs_post_and_offsite_links_are_not_followed(client: Client, world: World) -> None:
    offsite = Notification.objects.create(
        recipient=world.clinician, for_staff=True, title="x", link="https://evil.example/"
    )
    signed_in(client, world.clinician)
    assert client.get(reverse("staff_notifications:open", args=[offsite.pk])).status_code == 405
    response = client.post(reverse("staff_notifications:open", args=[offsite.pk]))
    assert response["Location"] == reverse("staff_notifications:list")


@pytest.mark.parametrize("persona", ["unassigned_staff", "admin"])
def test_another_staff_members_notification_is_the_same_as_a_missing_one(
    client: Client, world: World, work: Notification, persona: str
) -> None:
    signed_in(client, world.persona(persona))
    refused = client.post(reverse("staff_notifications:open", args=[work.pk]))
    missing = client.post(reverse("staff_notifications:open", args=[MISSING]))
    assert_same_as_missing(refused, missing)
    too_long = reverse("staff_notifications:list") + "9" * 30 + "/open/"
    assert client.post(too_long).status_code == 404
    work.refresh_from_db()
    assert work.read_at is None


def test_a_patient_side_notification_cannot_be_opened_from_the_workspace(
    client: Client, world: World
) -> None:
    carol = make_patient("10000051", "Carol", "Staff", world.campus, account=world.clinician)
    own = Notification.objects.create(recipient=world.clinician, patient=carol, title="Your result")
    signed_in(client, world.clinician)
    refused = client.post(reverse("staff_notifications:open", args=[own.pk]))
    assert_same_as_missing(refused, client.post(reverse("staff_notifications:open", args=[MISSING])))


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient"])
def test_patients_do_not_reach_the_staff_list(
    client: Client, world: World, work: Notification, persona: str
) -> None:
    signed_in(client, world.persona(persona))
    assert client.get(reverse("staff_notifications:list")).status_code == 404
    assert client.post(reverse("staff_notifications:open", args=[work.pk])).status_code == 404
    assert client.post(reverse("staff_notifications:read_all")).status_code == 404
    work.refresh_from_db()
    assert work.read_at is None


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World, work: Notification) -> None:
    for response in (
        client.get(reverse("staff_notifications:list")),
        client.post(reverse("staff_notifications:open", args=[work.pk])),
    ):
        assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_mark_all_read_touches_only_the_users_staff_notifications(
    client: Client, world: World, work: Notification
) -> None:
    other = Notification.objects.create(recipient=world.scheduler, for_staff=True, title="For the desk")
    carol = make_patient("10000051", "Carol", "Staff", world.campus, account=world.clinician)
    own_patient_side = Notification.objects.create(recipient=world.clinician, patient=carol, title="Yours")
    response = signed_in(client, world.clinician).post(reverse("staff_notifications:read_all"))
    assert response.status_code == 302
    work.refresh_from_db()
    other.refresh_from_db()
    own_patient_side.refresh_from_db()
    assert work.read_at is not None
    assert other.read_at is None and own_patient_side.read_at is None
    assert AuditEvent.objects.get(action="notification.staff_read_all").detail == {"count": 1}


def test_the_list_pages_by_keyset_with_fixed_queries(client: Client, world: World) -> None:
    Notification.objects.bulk_create(
        Notification(recipient=world.clinician, for_staff=True, title=f"work {n}") for n in range(60)
    )
    signed_in(client, world.clinician)
    first = client.get(reverse("staff_notifications:list")).content.decode()
    assert "work 59" in first and "work 34" not in first
    cursor = Notification.objects.order_by("-pk")[24].pk
    second = client.get(reverse("staff_notifications:list"), {"before": cursor}).content.decode()
    assert "work 34" in second and "work 35" not in second
    small = query_count(lambda: client.get(reverse("staff_notifications:list")))
    Notification.objects.bulk_create(
        Notification(recipient=world.clinician, for_staff=True, title="more") for _n in range(300)
    )
    assert query_count(lambda: client.get(reverse("staff_notifications:list"))) == small
    assert client.get(reverse("staff_notifications:list"), {"before": "nonsense"}).status_code == 200


# The patient side leaves staff notifications out ------------------------------------------


def test_the_patient_list_leaves_out_staff_notifications(client: Client, world: World) -> None:
    carol = make_patient("10000051", "Carol", "Staff", world.campus, account=world.clinician)
    Notification.objects.create(recipient=world.clinician, patient=carol, title="Your own news")
    Notification.objects.create(recipient=world.clinician, patient=carol, for_staff=True, title="Pool work")
    page = signed_in(client, world.clinician).get(reverse("notifications:list")).content.decode()
    assert "Your own news" in page and "Pool work" not in page


def test_a_staff_notification_cannot_be_opened_or_marked_from_the_patient_side(
    client: Client, world: World
) -> None:
    carol = make_patient("10000051", "Carol", "Staff", world.campus, account=world.clinician)
    staff_note = Notification.objects.create(
        recipient=world.clinician, patient=carol, for_staff=True, title="Pool work"
    )
    signed_in(client, world.clinician)
    refused = client.post(reverse("notifications:open", args=[staff_note.pk]))
    assert_same_as_missing(refused, client.post(reverse("notifications:open", args=[MISSING])))
    client.post(reverse("notifications:read_all"))
    staff_note.refresh_from_db()
    assert staff_note.read_at is None


def test_a_staff_notification_about_a_patient_never_opens_with_patient_rights(
    client: Client, world: World, work: Notification
) -> None:
    # Carol cares for Alice: the patient side still refuses her staff notification about Alice.
    refused = signed_in(client, world.clinician).post(reverse("notifications:open", args=[work.pk]))
    assert refused.status_code in (302, 404)
    work.refresh_from_db()
    assert work.read_at is None
