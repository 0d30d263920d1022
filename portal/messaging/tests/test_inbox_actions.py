"""Working a thread from the staff inbox: replying, assigning, status, internal notes,
moving it to another pool, and writing to a patient first. Each is audited, checked,
and changes nothing when refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.messaging import staff_actions
from portal.messaging.models import Message, StaffNote, Thread, Topic
from portal.messaging.tests.support import MessagingWorld, messaging_world, png_upload, start_thread
from portal.notifications.models import Notification
from portal.patients.access import pool_access
from portal.test import World

pytestmark = pytest.mark.django_db

MISSING = 987654


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


@pytest.fixture
def thread(clinic: MessagingWorld) -> Thread:
    return start_thread(clinic.world, subject="Blood pressure question")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(user: User, name: str, thread: Thread, data: dict[str, Any]) -> Any:
    return signed_in(user).post(reverse(f"inbox:{name}", args=[thread.pk]), data)


def audited(action: str, user: User) -> bool:
    return AuditEvent.objects.filter(action=action, actor_id=user.pk, kind="write").exists()


def staff_told(user: User) -> list[str]:
    return list(Notification.objects.filter(recipient=user, for_staff=True).values_list("title", flat=True))


# Replying --------------------------------------------------------------------------------


def test_a_reply_goes_to_the_patient_and_sets_the_status(clinic: MessagingWorld, thread: Thread) -> None:
    response = signed_in(clinic.nurse).post(
        reverse("inbox:reply", args=[thread.pk]),
        {"body": "Take it in the morning.", "status": "closed", "attachments": [png_upload()]},
    )
    assert response.status_code == 302 and response["Location"] == reverse("inbox:thread", args=[thread.pk])
    thread.refresh_from_db()
    assert (
        thread.status == Thread.Status.CLOSED and thread.due_at is None and thread.assigned_to == clinic.nurse
    )
    reply = Message.objects.get(thread=thread, from_staff=True)
    assert reply.body == "Take it in the morning." and reply.attachments.count() == 1
    assert Notification.objects.filter(recipient=clinic.world.alice_user, for_staff=False).exists()
    assert audited("messaging.reply", clinic.nurse)


@pytest.mark.parametrize(
    "data",
    [
        {"body": "", "status": "waiting"},
        {"body": "x" * 5001, "status": "waiting"},
        {"body": "Hi", "status": "new"},
    ],
)
def test_a_bad_reply_changes_nothing(clinic: MessagingWorld, thread: Thread, data: dict[str, str]) -> None:
    response = post(clinic.nurse, "reply", thread, data)
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not Message.objects.filter(thread=thread, from_staff=True).exists()


def test_a_reply_with_a_file_that_is_not_an_image_or_pdf_is_refused(
    clinic: MessagingWorld, thread: Thread
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("notes.png", b"<script>alert(1)</script>", content_type="image/png")
    response = signed_in(clinic.nurse).post(
        reverse("inbox:reply", args=[thread.pk]),
        {"body": "See attached", "status": "waiting", "attachments": [fake]},
    )
    assert response.status_code == 400
    assert not Message.objects.filter(thread=thread, from_staff=True).exists()


# Assigning -------------------------------------------------------------------------------


def test_assigning_to_me_and_to_a_colleague(clinic: MessagingWorld, thread: Thread) -> None:
    carol = clinic.world.clinician
    assert post(carol, "assign", thread, {"assignee": carol.pk}).status_code == 302
    thread.refresh_from_db()
    assert thread.assigned_to == carol and thread.status == Thread.Status.IN_PROGRESS
    assert audited("messaging.assign", carol)
    before = len(staff_told(clinic.nurse))
    post(carol, "assign", thread, {"assignee": clinic.nurse.pk})
    thread.refresh_from_db()
    assert thread.assigned_to == clinic.nurse
    assert len(staff_told(clinic.nurse)) == before + 1
    post(carol, "assign", thread, {"assignee": ""})
    thread.refresh_from_db()
    assert thread.assigned_to is None and thread.status == Thread.Status.NEW


@pytest.mark.parametrize("assignee", ["bill", "dave", "root", "alice", "abc", str(MISSING)])
def test_only_pool_members_can_be_assigned(clinic: MessagingWorld, thread: Thread, assignee: str) -> None:
    found = User.objects.filter(username=assignee).first()
    response = post(clinic.world.clinician, "assign", thread, {"assignee": found.pk if found else assignee})
    assert response.status_code == 400
    thread.refresh_from_db()
    assert thread.assigned_to is None
    assert not audited("messaging.assign", clinic.world.clinician)


def test_a_closed_thread_is_not_assigned_or_moved(clinic: MessagingWorld, thread: Thread) -> None:
    thread.status = Thread.Status.CLOSED
    thread.save()
    carol = clinic.world.clinician
    response = post(carol, "assign", thread, {"assignee": carol.pk})
    assert response.status_code == 400 and "Reopen it" in response.content.decode()
    response = post(carol, "move", thread, {"pool": clinic.billing_office.pk, "reason": "About the bill"})
    assert response.status_code == 400
    thread.refresh_from_db()
    assert thread.assigned_to is None and thread.pool == clinic.world.care_team


# Status ----------------------------------------------------------------------------------


def test_changing_the_status_is_audited(clinic: MessagingWorld, thread: Thread) -> None:
    assert post(clinic.nurse, "status", thread, {"status": "waiting"}).status_code == 302
    thread.refresh_from_db()
    assert thread.status == Thread.Status.WAITING_ON_PATIENT and thread.due_at is None
    event = AuditEvent.objects.get(action="messaging.status", actor_id=clinic.nurse.pk)
    assert event.detail == {"from": "new", "to": "waiting"} and event.patient_id == clinic.world.alice.pk
    assert post(clinic.nurse, "status", thread, {"status": "in_progress"}).status_code == 302
    thread.refresh_from_db()
    assert thread.status == Thread.Status.IN_PROGRESS


@pytest.mark.parametrize("status", ["", "open", "<script>", "deleted"])
def test_a_bad_status_changes_nothing(clinic: MessagingWorld, thread: Thread, status: str) -> None:
    response = post(clinic.nurse, "status", thread, {"status": status})
    assert response.status_code == 400 and "<script>" not in response.content.decode()
    thread.refresh_from_db()
    assert thread.status == Thread.Status.NEW


# Notes -----------------------------------------------------------------------------------


def test_an_internal_note_is_kept_for_staff_only(clinic: MessagingWorld, thread: Thread) -> None:
    patient_side = Notification.objects.filter(for_staff=False).count()
    assert post(clinic.nurse, "note", thread, {"body": "Called the pharmacy."}).status_code == 302
    note = StaffNote.objects.get(thread=thread)
    assert note.body == "Called the pharmacy." and note.author == clinic.nurse
    assert audited("messaging.staff_note", clinic.nurse)
    assert Notification.objects.filter(for_staff=False).count() == patient_side
    page = signed_in(clinic.world.clinician).get(reverse("inbox:thread", args=[thread.pk])).content.decode()
    assert "Called the pharmacy." in page


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001])
def test_an_empty_or_long_note_is_refused(clinic: MessagingWorld, thread: Thread, body: str) -> None:
    assert post(clinic.nurse, "note", thread, {"body": body}).status_code == 400
    assert not StaffNote.objects.exists()


def test_the_note_action_refuses_patient_side_access(clinic: MessagingWorld, thread: Thread) -> None:
    from portal.patients.access import decide

    access = decide(clinic.world.alice_user, clinic.world.alice)
    assert access is not None
    with pytest.raises(staff_actions.InboxRefused):
        staff_actions.do_add_staff_note(Actor.system(), access, thread, "Sneaky")
    assert not StaffNote.objects.exists()


# Moving ----------------------------------------------------------------------------------


def test_moving_to_another_pool_hands_it_over(clinic: MessagingWorld, thread: Thread) -> None:
    carol = clinic.world.clinician
    post(carol, "assign", thread, {"assignee": carol.pk})
    due_at = Thread.objects.get(pk=thread.pk).due_at
    response = post(
        carol, "move", thread, {"pool": clinic.billing_office.pk, "reason": "This is about a bill."}
    )
    assert response.status_code == 302 and response["Location"] == reverse("inbox:queue")
    thread.refresh_from_db()
    assert thread.pool == clinic.billing_office and thread.assigned_to is None
    assert thread.status == Thread.Status.NEW and thread.due_at == due_at
    note = StaffNote.objects.get(thread=thread)
    assert "This is about a bill." in note.body and "Billing office" in note.body
    assert audited("messaging.move", carol)
    assert any("Billing office" in title for title in staff_told(clinic.billing_clerk))
    assert signed_in(carol).get(reverse("inbox:thread", args=[thread.pk])).status_code == 404
    assert signed_in(clinic.billing_clerk).get(reverse("inbox:thread", args=[thread.pk])).status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"pool": "billing", "reason": ""},
        {"pool": "billing", "reason": "no"},
        {"pool": "same", "reason": "Stays here, really"},
        {"pool": str(MISSING), "reason": "Nowhere to go"},
        {"pool": "abc", "reason": "Nowhere to go"},
    ],
)
def test_a_bad_move_changes_nothing(clinic: MessagingWorld, thread: Thread, data: dict[str, str]) -> None:
    pools = {"billing": str(clinic.billing_office.pk), "same": str(clinic.world.care_team.pk)}
    data = {**data, "pool": pools.get(data["pool"], data["pool"])}
    assert post(clinic.nurse, "move", thread, data).status_code == 400
    thread.refresh_from_db()
    assert thread.pool == clinic.world.care_team and not StaffNote.objects.exists()


# Writing first ---------------------------------------------------------------------------


def test_staff_can_write_to_a_patient_first(clinic: MessagingWorld) -> None:
    url = reverse("inbox:start", args=[clinic.world.alice.pk])
    carol = clinic.world.clinician
    assert signed_in(carol).get(url).status_code == 200
    data = {
        "pool": clinic.world.care_team.pk,
        "topic": Topic.RESULT,
        "subject": "Your cholesterol result",
        "body": "Your result is normal.",
        "status": "waiting",
    }
    response = signed_in(carol).post(url, data)
    assert response.status_code == 302
    thread = Thread.objects.get(subject="Your cholesterol result")
    assert thread.started_by_staff and thread.assigned_to == carol and thread.due_at is None
    assert thread.status == Thread.Status.WAITING_ON_PATIENT and thread.pool == clinic.world.care_team
    assert Notification.objects.filter(recipient=clinic.world.alice_user).exists()
    assert audited("messaging.staff_thread_start", carol)


def test_writing_first_needs_a_reachable_patient_and_an_own_pool(clinic: MessagingWorld) -> None:
    world = clinic.world
    data = {
        "pool": world.care_team.pk,
        "topic": Topic.MEDICAL,
        "subject": "Hello",
        "body": "Hi",
        "status": "waiting",
    }
    # Carol does not care for Bob, so she does not reach him at all.
    assert (
        signed_in(world.clinician).post(reverse("inbox:start", args=[world.bob.pk]), data).status_code == 404
    )
    assert (
        signed_in(world.unassigned_staff).get(reverse("inbox:start", args=[world.alice.pk])).status_code
        == 404
    )
    # Bill reaches every patient for billing, but writes only from the billing office.
    alice_url = reverse("inbox:start", args=[world.alice.pk])
    assert signed_in(clinic.billing_clerk).post(alice_url, data).status_code == 400
    assert not Thread.objects.exists()
    billing = {**data, "pool": clinic.billing_office.pk, "topic": Topic.BILLING}
    assert signed_in(clinic.billing_clerk).post(alice_url, billing).status_code == 302
    assert Thread.objects.get().pool == clinic.billing_office


# Nobody outside the pool -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["reply", "note", "assign", "status", "move"])
def test_a_clinician_outside_the_pool_cannot_act(clinic: MessagingWorld, name: str) -> None:
    thread = start_thread(clinic.world, topic=Topic.BILLING)
    data = {
        "body": "x",
        "status": "closed",
        "assignee": clinic.world.clinician.pk,
        "pool": clinic.world.care_team.pk,
        "reason": "Move it over",
    }
    assert post(clinic.world.clinician, name, thread, data).status_code == 404
    assert post(clinic.world.clinician, name, Thread(pk=MISSING), data).status_code == 404
    thread.refresh_from_db()
    assert thread.status == Thread.Status.NEW and thread.pool == clinic.billing_office
    assert not StaffNote.objects.exists() and Message.objects.filter(thread=thread).count() == 1


def test_actions_check_the_access_they_are_given(clinic: MessagingWorld, thread: Thread) -> None:
    billing_thread = start_thread(clinic.world, topic=Topic.BILLING)
    access = pool_access(clinic.billing_clerk, clinic.world.alice, billing_thread.pool)
    assert access is not None
    # Bill may message Alice in billing threads, not in her care team's.
    with pytest.raises(staff_actions.InboxRefused, match="no longer in one of your pools"):
        staff_actions.do_set_thread_status(Actor.system(), access, thread, Thread.Status.CLOSED)
    thread.refresh_from_db()
    assert thread.status == Thread.Status.NEW
