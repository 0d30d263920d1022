"""Refill requests in the staff workspace: the list, and approving, declining and asking,
each a message in the request's thread that the patient's side hears about."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.messaging import actions
from portal.messaging.models import Message, RefillRequest, Thread
from portal.messaging.tests.support import MessagingWorld, access_for, messaging_world, staff_reply
from portal.messaging.tests.test_refills import medication, request_refill
from portal.notifications.models import Notification
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import pool_access
from portal.patients.models import CareRelationship
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

LIST = reverse("staff_refills:list")
MISSING = 987654321


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, refill: RefillRequest | int) -> str:
    return reverse(f"staff_refills:{name}", args=[refill if isinstance(refill, int) else refill.pk])


def a_request(world: World, name: str = "Lisinopril") -> RefillRequest:
    refill = request_refill(world, medication(world, name))
    Notification.objects.all().delete()
    return refill


def thread_of(refill: RefillRequest) -> Thread:
    thread = Thread.objects.filter(refill_request=refill).first()
    assert thread is not None
    return thread


def patient_side_told() -> set[str]:
    return set(Notification.objects.filter(for_staff=False).values_list("recipient__username", flat=True))


# The list --------------------------------------------------------------------------------------


def test_the_list_shows_open_requests_in_the_user_s_pools(world: World, clinic: MessagingWorld) -> None:
    waiting = a_request(world, "Lisinopril")
    decided = a_request(world, "Metformin")
    RefillRequest.objects.filter(pk=decided.pk).update(status=RefillRequest.Status.APPROVED)
    page = as_user(clinic.nurse).get(LIST).content.decode()
    assert "Lisinopril" in page and "Metformin" not in page
    assert reverse("inbox:thread", args=[waiting.thread_id]) in page
    assert url("detail", waiting) in page
    approved = as_user(clinic.nurse).get(LIST, {"status": "approved"}).content.decode()
    assert "Metformin" in approved and "Lisinopril" not in approved
    every = as_user(clinic.nurse).get(LIST, {"status": "all"}).content.decode()
    assert "Metformin" in every and "Lisinopril" in every
    event = AuditEvent.objects.filter(action="refills.staff_list").latest("sequence")
    assert event.detail["rows"] == [waiting.pk, decided.pk]
    assert event.detail["patients"] == [world.alice.pk]
    assert as_user(clinic.nurse).get(LIST, {"status": "<script>"}).status_code == 200


def test_staff_outside_the_pool_see_no_requests(world: World, clinic: MessagingWorld) -> None:
    a_request(world)
    for user in (world.unassigned_staff, world.scheduler, clinic.billing_clerk):
        response = as_user(user).get(LIST)
        assert response.status_code == 200
        assert "Lisinopril" not in response.content.decode()


def test_patients_and_anonymous_visitors_get_no_staff_list(world: World) -> None:
    assert as_user(world.alice_user).get(LIST).status_code == 404
    anonymous = Client().get(LIST)
    assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]


def test_the_list_costs_the_same_however_many_requests(world: World, clinic: MessagingWorld) -> None:
    client = as_user(clinic.nurse)
    a_request(world, "Drug 0")
    client.get(LIST)  # the first request of a session records the session
    few = query_count(lambda: client.get(LIST))
    for number in range(1, 12):
        a_request(world, f"Drug {number}")
    assert query_count(lambda: client.get(LIST)) == few


def test_the_list_pages_oldest_first(world: World, clinic: MessagingWorld) -> None:
    refills = [a_request(world, f"Drug {number:02d}") for number in range(32)]
    client = as_user(clinic.nurse)
    first = client.get(LIST).content.decode()
    assert "Drug 00" in first and "Drug 29" in first and "Drug 30" not in first
    second = client.get(LIST, {"after": refills[29].pk}).content.decode()
    assert "Drug 30" in second and "Drug 31" in second and "Drug 29" not in second
    assert client.get(LIST, {"after": "junk"}).status_code == 200


# Deciding --------------------------------------------------------------------------------------


def test_a_prescriber_in_the_pool_approves_and_the_patient_is_told(
    world: World, clinic: MessagingWorld
) -> None:
    refill = a_request(world)
    response = as_user(world.clinician).post(url("approve", refill), {"note": "Sent for 90 days."})
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:thread", args=[refill.thread_id])
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.APPROVED
    assert refill.decided_by == world.clinician and refill.decided_at is not None
    assert refill.decision_note == "Sent for 90 days."
    message = Message.objects.filter(thread=thread_of(refill), from_staff=True).get()
    assert message.body.startswith("Your refill request was approved: Lisinopril 10 mg tablet.")
    assert "Main Street Pharmacy" in message.body and "Sent for 90 days." in message.body
    thread = thread_of(refill)
    assert thread.status == Thread.Status.CLOSED and thread.due_at is None
    assert patient_side_told() == {"alice", "pat"}
    event = AuditEvent.objects.get(action="refills.approve")
    assert event.patient_id == world.alice.pk and event.actor_id == world.clinician.pk


def test_declining_needs_a_reason(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    client = as_user(world.clinician)
    response = client.post(url("deny", refill), {"reason": "   "})
    assert response.status_code == 400
    assert "Give the patient the reason the refill is declined." in response.content.decode()
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.REQUESTED and refill.decided_at is None
    assert not Message.objects.filter(from_staff=True).exists() and not patient_side_told()

    response = client.post(url("deny", refill), {"reason": "Please book a blood pressure check first."})
    assert response.status_code == 302
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.DENIED and refill.decided_by == world.clinician
    assert refill.decision_note == "Please book a blood pressure check first."
    body = Message.objects.get(thread=thread_of(refill), from_staff=True).body
    assert "not approved" in body and "Reason: Please book a blood pressure check first." in body
    assert thread_of(refill).status == Thread.Status.WAITING_ON_PATIENT
    assert patient_side_told() == {"alice", "pat"}
    assert AuditEvent.objects.filter(action="refills.deny").count() == 1


def test_a_question_waits_for_the_patient_and_their_answer_reopens_it(
    world: World, clinic: MessagingWorld
) -> None:
    refill = a_request(world)
    assert as_user(clinic.nurse).post(url("ask", refill), {"question": ""}).status_code == 400
    response = as_user(clinic.nurse).post(url("ask", refill), {"question": "Are you still taking 10 mg?"})
    assert response.status_code == 302
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.QUESTION and refill.decided_at is None
    thread = thread_of(refill)
    assert thread.status == Thread.Status.WAITING_ON_PATIENT
    assert Message.objects.get(thread=thread, from_staff=True).body == "Are you still taking 10 mg?"
    assert patient_side_told() == {"alice", "pat"}
    assert (
        "Your care team has a question"
        in as_user(world.alice_user).get(reverse("refills:list")).content.decode()
    )

    actions.do_reply(
        Actor.system(), access_for(world.proxy_user, world), thread, actions.Draft(body="Yes, 10 mg.")
    )
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.REQUESTED
    assert as_user(world.clinician).post(url("approve", refill), {}).status_code == 302
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.APPROVED and refill.decision_note == ""


def test_a_staff_reply_does_not_answer_the_question(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    as_user(clinic.nurse).post(url("ask", refill), {"question": "Which pharmacy?"})
    staff_reply(thread_of(refill), world.clinician, body="Also, bring your list.")
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.QUESTION


def test_a_decided_request_cannot_be_decided_again(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    as_user(world.clinician).post(url("approve", refill), {})
    for name, data in (("approve", {}), ("deny", {"reason": "No"}), ("ask", {"question": "Why?"})):
        response = as_user(world.clinician).post(url(name, refill), data)
        assert response.status_code == 400
        assert "This refill request has already been decided." in response.content.decode()
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.APPROVED and refill.decided_by == world.clinician
    assert Message.objects.filter(from_staff=True).count() == 1


def test_only_the_pool_may_see_or_decide(world: World, clinic: MessagingWorld) -> None:
    # Alma cares for Alice in another team: she sees Alice's record, not this pool's requests.
    allergy = CareTeam.objects.create(slug="allergy", name="Allergy clinic", campus=world.campus)
    alma = make_staff("alma", Practitioner.Role.PHYSICIAN, allergy)
    CareRelationship.objects.create(
        patient=world.alice, care_team=allergy, practitioner=alma.practitioner, starts_on=dt.date(2020, 1, 1)
    )
    refill = a_request(world)
    assert refill.thread is not None and refill.thread.pool == world.care_team
    assert pool_access(alma, world.alice, refill.thread.pool) is None
    for user in (world.unassigned_staff, world.scheduler, alma, world.admin):
        client = as_user(user)
        assert_same_as_missing(client.get(url("detail", refill)), client.get(url("detail", MISSING)))
        for name, data in (("approve", {}), ("deny", {"reason": "No"}), ("ask", {"question": "Why?"})):
            assert_same_as_missing(
                client.post(url(name, refill), data), client.post(url(name, MISSING), data)
            )
    for user in (world.alice_user, world.proxy_user, world.bob_user):
        assert as_user(user).post(url("approve", refill), {}).status_code == 404
    assert Client().post(url("approve", refill), {}).status_code == 302
    refill.refresh_from_db()
    assert refill.status == RefillRequest.Status.REQUESTED
    assert not Message.objects.filter(from_staff=True).exists()
    assert AuditEvent.objects.filter(action="access.refused", actor_id=alma.pk).exists()


def test_the_decisions_are_posts(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    for name in ("approve", "deny", "ask"):
        assert as_user(clinic.nurse).get(url(name, refill)).status_code == 405


# The panel -------------------------------------------------------------------------------------


def test_the_detail_page_shows_the_request_and_the_decisions(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    response = as_user(world.clinician).get(url("detail", refill))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lisinopril 10 mg tablet" in page and "Main Street Pharmacy" in page
    for name in ("approve", "deny", "ask"):
        assert f'action="{url(name, refill)}"' in page
    assert AuditEvent.objects.filter(action="refills.staff_view", patient_id=world.alice.pk).exists()
    as_user(world.clinician).post(url("deny", refill), {"reason": "See your doctor first."})
    page = as_user(clinic.nurse).get(url("detail", refill)).content.decode()
    assert "See your doctor first." in page and f'action="{url("approve", refill)}"' not in page


def test_the_panel_renders_from_the_inbox_thread_context(world: World, clinic: MessagingWorld) -> None:
    refill = a_request(world)
    thread = thread_of(refill)
    access = pool_access(world.clinician, world.alice, thread.pool)
    request = RequestFactory().get("/staff/inbox/")
    request.user = world.clinician
    html = render_to_string(
        "messaging/staff/panels/refill.html", {"thread": thread, "access": access}, request=request
    )
    assert "Refill request" in html and "Lisinopril 10 mg tablet" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'action="{url("deny", refill)}"' in html
