"""The core of messaging: routing to pools, replies both ways, who is told, and what email says."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.actor import Actor
from portal.messaging import actions, staff_actions
from portal.messaging.models import Thread, Topic
from portal.messaging.tests.support import messaging_world, staff_reply, start_thread
from portal.notifications.models import Notification, OutboxMessage
from portal.notifications.outbound import OUTBOUND
from portal.organization.models import Practitioner
from portal.patients.access import decide, pool_access
from portal.patients.models import CareRelationship
from portal.test import World, assert_same_as_missing, make_patient

pytestmark = pytest.mark.django_db


def test_topics_route_to_their_pools(world: World) -> None:
    clinic = messaging_world(world)
    assert start_thread(world, topic=Topic.MEDICAL).pool == world.care_team
    assert start_thread(world, topic=Topic.APPOINTMENT).pool == world.scheduling_desk
    assert start_thread(world, topic=Topic.BILLING).pool == clinic.billing_office


def test_a_new_message_tells_the_pool_and_a_reply_tells_the_patient_side(world: World) -> None:
    clinic = messaging_world(world)
    thread = start_thread(world)
    told = set(Notification.objects.filter(for_staff=True).values_list("recipient__username", flat=True))
    assert told == {"carol", "nina"}
    assert thread.status == Thread.Status.NEW and thread.due_at is not None

    staff_reply(thread, clinic.nurse)
    thread.refresh_from_db()
    assert thread.status == Thread.Status.WAITING_ON_PATIENT and thread.due_at is None
    assert thread.assigned_to == clinic.nurse
    patient_side = set(
        Notification.objects.filter(for_staff=False).values_list("recipient__username", flat=True)
    )
    assert patient_side == {"alice", "pat"}  # Pat's grant includes the message scope


def test_email_about_a_reply_says_nothing_about_health(world: World) -> None:
    clinic = messaging_world(world)
    thread = start_thread(world, subject="My HIV test", body="Is it positive?")
    staff_reply(thread, clinic.nurse, body="Your HIV test was negative.")
    emails = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.EMAIL, for_staff=False)
    assert emails.count() == 2
    allowed = {text for pair in OUTBOUND.values() for text in pair}
    for email in emails:
        assert email.subject in allowed and email.body in allowed
        assert "HIV" not in email.subject + email.body


def test_only_the_pool_may_answer(world: World) -> None:
    clinic = messaging_world(world)
    thread = start_thread(world, topic=Topic.BILLING)
    assert pool_access(world.clinician, world.alice, thread.pool) is None  # cares for Alice, not in billing
    assert pool_access(world.unassigned_staff, world.alice, thread.pool) is None
    assert pool_access(clinic.billing_clerk, world.alice, thread.pool) is not None


def test_a_proxy_without_the_message_scope_cannot_write(world: World) -> None:
    world.proxy_grant.scopes = ["view"]
    world.proxy_grant.save()
    with pytest.raises(actions.MessageRefused):
        start_thread(world, world.proxy_user)
    assert not Thread.objects.exists()


def test_staff_never_work_their_own_or_their_familys_conversations(world: World, client: Client) -> None:
    clinic = messaging_world(world)
    # Nina the nurse is also a patient of her own team, and Pat (Alice's proxy) joins it too.
    nina_patient = make_patient("10000077", "Nina", "Staff", world.campus, account=clinic.nurse)
    CareRelationship.objects.create(
        patient=nina_patient, care_team=world.care_team, starts_on=dt.date(2020, 1, 1)
    )
    pat_practitioner = Practitioner.objects.create(
        user=world.proxy_user, given_name="Pat", family_name="Able", role=Practitioner.Role.NURSE
    )
    world.care_team.members.add(pat_practitioner)
    own = actions.do_start_thread(
        Actor.system(),
        decide(clinic.nurse, nina_patient),  # type: ignore[arg-type]
        topic=Topic.PRESCRIPTION,
        care_team=world.care_team,
        subject="My prescription",
        draft=actions.Draft(body="Please renew it."),
    )
    told = set(Notification.objects.filter(for_staff=True).values_list("recipient__username", flat=True))
    assert told == {"carol", "pat"}
    assert pool_access(clinic.nurse, nina_patient, world.care_team) is None
    client.force_login(clinic.nurse)
    assert_same_as_missing(
        client.get(reverse("inbox:thread", args=[own.pk])), client.get(reverse("inbox:thread", args=[999999]))
    )

    alices = start_thread(world)
    assert pool_access(world.proxy_user, world.alice, world.care_team) is None
    assert world.proxy_user not in staff_actions.assignable_members(alices)
    assert clinic.nurse in staff_actions.assignable_members(alices)
