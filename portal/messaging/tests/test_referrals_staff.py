"""Referrals on the care team's side: the list, the decisions, and the appointment that follows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.messaging.models import Message, Referral, Thread
from portal.messaging.tests.support import MessagingWorld, messaging_world
from portal.messaging.tests.test_referrals import make_referral, second_campus
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.access import decide
from portal.scheduling import actions_desk
from portal.scheduling.models import AppointmentRequest
from portal.scheduling.tests.support import local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
ACTIONS = ("approve", "deny", "complete", "schedule")


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def signed_in(world: World, persona: str = "clinician") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, referral: Referral | int) -> str:
    pk = referral if isinstance(referral, int) else referral.pk
    return reverse(f"staff_referrals:{name}", kwargs={"referral_id": pk})


def post(client: Client, name: str, referral: Referral, **data: Any) -> Any:
    return client.post(url(name, referral), data)


def fresh(referral: Referral) -> Referral:
    return Referral.objects.select_related("thread", "appointment_request").get(pk=referral.pk)


# Deciding ---------------------------------------------------------------------------------------


def test_approving_tells_the_patient_in_the_conversation(clinic: MessagingWorld) -> None:
    world = clinic.world
    referral = make_referral(clinic)
    Notification.objects.all().delete()
    response = post(signed_in(world), "approve", referral, **{"approve-note": "Bring your ECG."})
    assert response.status_code == 302 and response["Location"] == url("detail", referral)
    referral = fresh(referral)
    assert referral.status == Referral.Status.APPROVED
    assert referral.valid_until == timezone.localdate() + dt.timedelta(days=180)
    assert referral.decided_by == world.clinician and referral.decided_at is not None
    assert referral.decision_note == "Bring your ECG."
    answer = Message.objects.filter(thread=referral.thread, from_staff=True).get()
    assert "Your referral to Cardiology is approved." in answer.body and "Bring your ECG." in answer.body
    assert answer.author == world.clinician
    told = set(Notification.objects.filter(for_staff=False).values_list("recipient__username", flat=True))
    assert told == {"alice", "pat"}
    assert referral.thread is not None and referral.thread.status == Thread.Status.IN_PROGRESS
    event = AuditEvent.objects.get(action="referral.approve")
    assert event.patient_id == world.alice.pk and event.actor_role == "staff"


def test_the_approval_lasts_as_configured(clinic: MessagingWorld, settings: Any) -> None:
    settings.PORTAL_REFERRAL_VALID_DAYS = 30
    referral = make_referral(clinic)
    post(signed_in(clinic.world), "approve", referral)
    assert fresh(referral).valid_until == timezone.localdate() + dt.timedelta(days=30)


def test_denying_needs_a_reason_the_patient_reads(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    client = signed_in(clinic.world)
    for reason in ("", "   ", "x" * 2001):
        response = post(client, "deny", referral, **{"deny-reason": reason})
        assert response.status_code == 400
        assert 'id="referral-deny-reason-error"' in response.content.decode()
    assert fresh(referral).status == Referral.Status.REQUESTED
    assert not Message.objects.filter(from_staff=True).exists()

    response = post(client, "deny", referral, **{"deny-reason": "A cardiologist saw you last month."})
    referral = fresh(referral)
    assert response.status_code == 302
    assert referral.status == Referral.Status.DENIED
    assert referral.decision_note == "A cardiologist saw you last month."
    answer = Message.objects.get(thread=referral.thread, from_staff=True)
    assert "was not approved" in answer.body and "A cardiologist saw you last month." in answer.body
    assert referral.thread is not None and referral.thread.status == Thread.Status.WAITING_ON_PATIENT
    assert AuditEvent.objects.filter(action="referral.deny").count() == 1


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        (Referral.Status.DENIED, ("approve", "deny", "complete", "schedule")),
        (Referral.Status.REQUESTED, ("complete", "schedule")),
        (Referral.Status.APPROVED, ("approve", "deny")),
        (Referral.Status.SCHEDULED, ("approve", "deny", "schedule")),
        (Referral.Status.COMPLETED, ("approve", "deny", "complete", "schedule")),
    ],
)
def test_transitions_that_make_no_sense_are_refused(
    clinic: MessagingWorld, status: str, refused: tuple[str, ...]
) -> None:
    referral = make_referral(clinic, status=status, valid_until=timezone.localdate() + dt.timedelta(days=9))
    client = signed_in(clinic.world)
    for action in refused:
        response = post(client, action, referral, **{"deny-reason": "No", "approve-note": ""})
        assert response.status_code == 409, action
        assert 'role="alert"' in response.content.decode()
        assert fresh(referral).status == status
    assert not AppointmentRequest.objects.exists()
    assert not Message.objects.filter(from_staff=True).exists()


def test_completing_an_approved_referral(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    client = signed_in(clinic.world)
    post(client, "approve", referral)
    response = post(client, "complete", referral)
    assert response.status_code == 302
    assert fresh(referral).status == Referral.Status.COMPLETED
    assert Message.objects.filter(from_staff=True, body__contains="is completed").count() == 1
    assert AuditEvent.objects.filter(action="referral.complete").exists()


# Into the scheduling desk's queue ------------------------------------------------------------------


def test_an_approved_referral_becomes_a_request_at_the_preferred_campus_desk(clinic: MessagingWorld) -> None:
    world = clinic.world
    jacksonville = second_campus([clinic.cardiology])
    jax_scheduler = make_staff("jo", Practitioner.Role.SCHEDULER, jacksonville.care_teams.get())
    referral = make_referral(clinic, campus=jacksonville)
    client = signed_in(world)
    post(client, "approve", referral, **{"approve-note": "Urgent-ish"})
    response = post(client, "schedule", referral)
    assert response.status_code == 302

    referral = fresh(referral)
    appointment_request = referral.appointment_request
    assert appointment_request is not None
    assert appointment_request.patient == world.alice and appointment_request.campus == jacksonville
    assert appointment_request.department == clinic.cardiology
    assert appointment_request.reason == "Chest pain when I climb stairs"
    assert appointment_request.referred_by == "Dr. Carol Staff, Family Medicine, Rochester"
    assert f"Portal referral {referral.pk} to Cardiology" in appointment_request.referral_details
    assert "Urgent-ish" in appointment_request.referral_details
    assert appointment_request.status == AppointmentRequest.Status.SUBMITTED
    assert referral.status == Referral.Status.APPROVED
    assert Message.objects.filter(from_staff=True, body__contains="Jacksonville scheduling desk").exists()
    assert AuditEvent.objects.filter(action="appointment_request.submit", patient_id=world.alice.pk).exists()
    assert AuditEvent.objects.filter(action="referral.appointment_request").exists()

    queue = as_user(jax_scheduler).get(reverse("desk:queue", kwargs={"campus_slug": "jacksonville"}))
    assert reverse("desk:request", kwargs={"request_id": appointment_request.pk}) in queue.content.decode()
    rochester = as_user(world.scheduler).get(reverse("desk:queue", kwargs={"campus_slug": "rochester"}))
    assert (
        reverse("desk:request", kwargs={"request_id": appointment_request.pk})
        not in rochester.content.decode()
    )

    again = post(client, "schedule", referral)
    assert again.status_code == 409 and "already has an appointment request" in again.content.decode()
    assert AppointmentRequest.objects.count() == 1


def test_without_a_preferred_campus_the_request_goes_to_the_patients_campus(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    client = signed_in(clinic.world)
    post(client, "approve", referral)
    post(client, "schedule", referral)
    appointment_request = fresh(referral).appointment_request
    assert appointment_request is not None and appointment_request.campus == clinic.world.campus


def test_an_expired_approval_cannot_be_scheduled(clinic: MessagingWorld) -> None:
    referral = make_referral(
        clinic, status=Referral.Status.APPROVED, valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    response = post(signed_in(clinic.world), "schedule", referral)
    assert response.status_code == 409 and "expired" in response.content.decode()
    assert not AppointmentRequest.objects.exists()


def test_booking_the_request_marks_the_referral_scheduled(clinic: MessagingWorld) -> None:
    world = clinic.world
    sw = scheduling_world(world)
    referral = make_referral(clinic, specialty=sw.department)
    client = signed_in(world)
    post(client, "approve", referral)
    post(client, "schedule", referral)
    appointment_request = fresh(referral).appointment_request
    assert appointment_request is not None
    slot = make_slot(sw, local_moment(world.campus, 8, 9))
    desk_access = decide(world.scheduler, world.alice)
    assert desk_access is not None
    actions_desk.do_book_request(
        Actor(user=world.scheduler), desk_access, appointment_request, slot, sw.consult
    )
    referral = fresh(referral)
    assert referral.status == Referral.Status.SCHEDULED
    assert AuditEvent.objects.filter(action="referral.scheduled", patient_id=world.alice.pk).exists()
    page = as_user(world.alice_user).get(reverse("referrals:detail", kwargs={"referral_id": referral.pk}))
    assert "An appointment is booked." in page.content.decode()


def test_booking_an_ordinary_request_touches_no_referral(clinic: MessagingWorld) -> None:
    world = clinic.world
    sw = scheduling_world(world)
    referral = make_referral(clinic, specialty=sw.department, status=Referral.Status.APPROVED)
    appointment_request = AppointmentRequest.objects.create(
        patient=world.alice, campus=world.campus, department=sw.department, reason="Knee"
    )
    desk_access = decide(world.scheduler, world.alice)
    assert desk_access is not None
    slot = make_slot(sw, local_moment(world.campus, 8, 9))
    actions_desk.do_book_request(
        Actor(user=world.scheduler), desk_access, appointment_request, slot, sw.consult
    )
    assert fresh(referral).status == Referral.Status.APPROVED


# Who may see and act -----------------------------------------------------------------------------


def test_the_panel_offers_what_the_status_allows(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    client = signed_in(clinic.world)
    page = client.get(url("detail", referral)).content.decode()
    assert f'action="{url("approve", referral)}"' in page and f'action="{url("deny", referral)}"' in page
    assert f'action="{url("schedule", referral)}"' not in page
    assert "Chest pain when I climb stairs" in page
    post(client, "approve", referral)
    page = client.get(url("detail", referral)).content.decode()
    assert f'action="{url("approve", referral)}"' not in page
    assert "Create appointment request" in page and "Mark completed" in page
    assert AuditEvent.objects.filter(action="referral.staff_view", patient_id=clinic.world.alice.pk).exists()


def test_the_panel_works_from_the_inbox_conversation(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    client = signed_in(clinic.world)
    conversation = reverse("inbox:thread", args=[referral.thread_id])
    page = client.get(conversation).content.decode()
    assert f'action="{url("approve", referral)}"' in page and 'name="back" value="inbox"' in page
    response = post(client, "approve", referral, back="inbox")
    assert response["Location"] == conversation
    assert "Create appointment request" in client.get(conversation).content.decode()


def test_the_nurse_in_the_pool_may_not_decide_but_may_carry_it_forward(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    response = post(as_user(clinic.nurse), "deny", referral, **{"deny-reason": "Not needed"})
    assert response.status_code == 409 and "A prescriber decides this request." in response.content.decode()
    assert fresh(referral).status == Referral.Status.REQUESTED and fresh(referral).decided_by is None
    post(signed_in(clinic.world), "approve", referral)
    assert post(as_user(clinic.nurse), "complete", referral).status_code == 302
    assert fresh(referral).status == Referral.Status.COMPLETED


@pytest.mark.parametrize("persona", ["unassigned_staff", "admin", "scheduler"])
def test_staff_outside_the_pool_get_the_missing_page(clinic: MessagingWorld, persona: str) -> None:
    referral = make_referral(clinic)
    client = as_user(getattr(clinic.world, persona))
    assert_same_as_missing(client.get(url("detail", referral)), client.get(url("detail", MISSING)))
    for action in ACTIONS:
        data = {"deny-reason": "No"}
        assert_same_as_missing(
            client.post(url(action, referral), data), client.post(url(action, MISSING), data)
        )
    assert fresh(referral).status == Referral.Status.REQUESTED
    assert AuditEvent.objects.filter(action="access.refused", patient_id=clinic.world.alice.pk).exists()
    listed = client.get(reverse("staff_referrals:list"))
    assert listed.status_code == 200 and url("detail", referral) not in listed.content.decode()


def test_patients_and_anonymous_are_kept_out(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    for persona in ("patient", "proxy", "other_patient"):
        client = signed_in(clinic.world, persona)
        assert client.get(reverse("staff_referrals:list")).status_code == 404
        assert client.get(url("detail", referral)).status_code == 404
        assert client.post(url("approve", referral)).status_code == 404
    anonymous = Client()
    for address in (reverse("staff_referrals:list"), url("detail", referral), url("approve", referral)):
        response = anonymous.post(address) if address.endswith("approve/") else anonymous.get(address)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert fresh(referral).status == Referral.Status.REQUESTED


def test_decisions_need_post(clinic: MessagingWorld) -> None:
    referral = make_referral(clinic)
    for action in ACTIONS:
        assert signed_in(clinic.world).get(url(action, referral)).status_code == 405


# The list -------------------------------------------------------------------------------------------


def staff_list(client: Client, **query: Any) -> Any:
    return client.get(reverse("staff_referrals:list"), query)


def test_the_list_shows_the_pools_referrals_and_searches_them(clinic: MessagingWorld) -> None:
    world = clinic.world
    zone = timezone.get_current_timezone()
    march = make_referral(clinic, created_at=dt.datetime(2025, 3, 10, 12, tzinfo=zone))
    april = make_referral(
        clinic, status=Referral.Status.APPROVED, created_at=dt.datetime(2025, 4, 2, 12, tzinfo=zone)
    )
    dermatology = world.campus.departments.create(slug="dermatology", name="Dermatology")
    june = make_referral(
        clinic,
        specialty=dermatology,
        status=Referral.Status.DENIED,
        created_at=dt.datetime(2025, 6, 1, tzinfo=zone),
    )
    client = signed_in(world)

    def found(**query: Any) -> set[int]:
        response = staff_list(client, **query)
        assert response.status_code == 200
        page = response.content.decode()
        return {
            referral.pk for referral in (march, april, june) if f'href="{url("detail", referral)}"' in page
        }

    assert found() == {march.pk, april.pk, june.pk}
    assert found(status="open") == {march.pk, april.pk}
    assert found(status="denied") == {june.pk}
    assert found(specialty=dermatology.pk) == {june.pk}
    assert found(requested_from="2025-04-01", requested_to="2025-04-30") == {april.pk}
    assert found(q="alice") == found(q="Able Alice") == found(q="10000001") == {march.pk, april.pk, june.pk}
    assert found(q="bob") == set()
    assert AuditEvent.objects.filter(action="referral.staff_list_view").exists()


def test_the_list_leaves_out_other_pools(clinic: MessagingWorld) -> None:
    make_referral(clinic)
    page = as_user(clinic.billing_clerk).get(reverse("staff_referrals:list")).content.decode()
    assert "No referrals in your care teams." in page


@pytest.mark.parametrize(
    "query",
    [
        {"status": "lost"},
        {"specialty": "x"},
        {"specialty": str(10**30)},
        {"requested_from": "2025-02-30"},
        {"requested_to": "0001-01-01"},
        {"requested_from": "2025-06-02", "requested_to": "2025-06-01"},
        {"q": "x" * 101},
        {"q": "\x00"},
        {"after": "nonsense"},
    ],
)
def test_bad_search_input_is_not_a_crash(clinic: MessagingWorld, query: dict[str, str]) -> None:
    make_referral(clinic)
    response = staff_list(signed_in(clinic.world), **query)
    assert response.status_code == 200


def test_the_list_query_count_does_not_grow(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world)
    staff_list(client)  # the session's first request does its own bookkeeping
    for _ in range(5):
        make_referral(clinic, status=Referral.Status.APPROVED)
    few = query_count(lambda: staff_list(client))
    for _ in range(45):
        make_referral(clinic, status=Referral.Status.APPROVED)
    many = query_count(lambda: staff_list(client))
    assert few == many
