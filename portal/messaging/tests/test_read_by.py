"""Who read a reply: opening a conversation marks the care team's messages read by whoever
opened it, and staff are told whether that was the patient or a proxy."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.messaging.models import Message, Thread
from portal.messaging.tests.support import MessagingWorld, messaging_world, staff_reply, start_thread
from portal.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_page(clinic: MessagingWorld, thread: Thread) -> str:
    return as_user(clinic.nurse).get(reverse("inbox:thread", args=[thread.pk])).content.decode()


def patient_page(user: User, thread: Thread) -> str:
    return as_user(user).get(reverse("messaging:thread", args=[thread.pk])).content.decode()


def test_a_proxy_opening_a_reply_is_not_the_patient_reading_it(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    staff_reply(thread, clinic.nurse, body="Take it in the morning.")
    assert "not read yet" in staff_page(clinic, thread)

    patient_page(world.proxy_user, thread)
    reply = Message.objects.get(thread=thread, from_staff=True)
    assert reply.read_at is not None and reply.read_by == world.proxy_user
    page = staff_page(clinic, thread)
    assert "Read by Pat Able (proxy) at" in page and "Read by the patient" not in page
    # Alice learns that Pat opened it; the reply is no longer new for her.
    alices = patient_page(world.alice_user, thread)
    assert "Read by Pat Able" in alices
    assert Message.objects.get(pk=reply.pk).read_by == world.proxy_user  # opening it again changes nothing


def test_the_patient_opening_a_reply_reads_as_the_patient(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    staff_reply(thread, clinic.nurse)
    patient_page(world.alice_user, thread)
    assert Message.objects.get(thread=thread, from_staff=True).read_by == world.alice_user
    page = staff_page(clinic, thread)
    assert "Read by the patient at" in page and "(proxy)" not in page
    assert "Read by Alice Able" in patient_page(world.proxy_user, thread)
    own = patient_page(world.alice_user, thread)
    assert "Read by Alice" not in own and 'class="read-status">Read ' in own


def test_staff_opening_a_thread_records_who_read_the_patients_message(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    staff_page(clinic, thread)
    message = Message.objects.get(thread=thread, from_staff=False)
    assert message.read_by == clinic.nurse and message.read_at is not None
    assert "Read by the care team" in patient_page(clinic.world.alice_user, thread)


def test_an_older_read_without_a_reader_claims_nobody(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    staff_reply(thread, clinic.nurse)
    patient_page(clinic.world.proxy_user, thread)
    Message.objects.filter(thread=thread, from_staff=True).update(read_by=None)
    page = staff_page(clinic, thread)
    assert "Read at" in page and "Read by the patient" not in page and "(proxy)" not in page
