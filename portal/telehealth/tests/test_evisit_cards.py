"""The home page's "Video visit" and "E-visits" cards: shown only with news, a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal.dashboard.cards import Card
from portal.patients.access import PatientAccess, Role
from portal.patients.models import ALL_SCOPES, ProxyGrant, Scope
from portal.scheduling.models import Appointment
from portal.telehealth.dashboard_cards import evisits_card, video_visit
from portal.telehealth.models import EVisit
from portal.telehealth.tests.support import (
    TelehealthWorld,
    patient_access,
    telehealth_world,
    video_appointment,
)
from portal.test import World, make_user, query_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def home(world: World, persona: str = "patient") -> str:
    client = Client()
    client.force_login(world.persona(persona))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def card(provider: Any, access: PatientAccess) -> Card | None:
    request = RequestFactory().get("/")
    request.user = access.user
    return provider(request, access)


def alice(tw: TelehealthWorld) -> PatientAccess:
    return patient_access(tw.world.alice_user, tw.world.alice)


def evisit(tw: TelehealthWorld, status: str, **fields: Any) -> EVisit:
    return EVisit.objects.create(
        patient=tw.world.alice,
        condition=tw.condition,
        status=status,
        price_cents=35_00,
        started_by=tw.world.alice_user,
        **fields,
    )


def answered(tw: TelehealthWorld, status: str = EVisit.Status.COMPLETED, days_ago: int = 0) -> EVisit:
    replied = timezone.now() - dt.timedelta(days=days_ago)
    return evisit(tw, status, reviewer=tw.world.clinician, replied_at=replied, plan="Rest.")


# Video visit -----------------------------------------------------------------------------------


def test_a_joinable_video_visit_shows_with_a_join_link(tw: TelehealthWorld) -> None:
    page = home(tw.world)
    assert ">Video visit</h2>" in page
    assert "Join video visit" in page and reverse("video:visit", args=[tw.appointment.pk]) in page
    assert ">Video visit</h2>" in home(tw.world, "proxy")  # Pat may see Alice's appointments


def test_no_card_before_the_visit_opens_or_when_it_is_cancelled_or_in_person(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).update(
        starts_at=timezone.now() + dt.timedelta(hours=2), ends_at=timezone.now() + dt.timedelta(hours=3)
    )
    assert card(video_visit, alice(tw)) is None
    Appointment.objects.filter(pk=tw.appointment.pk).update(
        starts_at=timezone.now(), ends_at=timezone.now() + dt.timedelta(minutes=30), status="cancelled"
    )
    assert card(video_visit, alice(tw)) is None
    Appointment.objects.filter(pk=tw.appointment.pk).update(status="booked", mode="in_person")
    assert card(video_visit, alice(tw)) is None
    assert "Join video visit" not in home(tw.world)


def test_another_patients_video_visit_is_not_on_bobs_home(tw: TelehealthWorld) -> None:
    assert "Join video visit" not in home(tw.world, "other_patient")


def test_no_video_card_for_staff_access_or_without_a_scope_that_sees_appointments(
    tw: TelehealthWorld,
) -> None:
    staff = PatientAccess(tw.world.clinician, tw.world.alice, Role.STAFF, ALL_SCOPES)
    assert card(video_visit, staff) is None
    billing_only = PatientAccess(tw.world.proxy_user, tw.world.alice, Role.PROXY, frozenset({Scope.BILLING}))
    assert card(video_visit, billing_only) is None


def test_the_video_card_costs_one_query_however_many_visits(tw: TelehealthWorld) -> None:
    access = alice(tw)
    assert query_count(lambda: card(video_visit, access)) == 1
    for hours in range(3, 30):
        video_appointment(tw.sw, tw.world.alice, dt.timedelta(hours=-hours))
        video_appointment(tw.sw, tw.world.alice, dt.timedelta(hours=hours))
    found = card(video_visit, access)
    assert found is not None and found.context["appointment"] == tw.appointment
    assert query_count(lambda: card(video_visit, access)) == 1


# E-visits --------------------------------------------------------------------------------------


def test_no_evisit_card_without_news(tw: TelehealthWorld) -> None:
    evisit(tw, EVisit.Status.DRAFT)
    evisit(tw, EVisit.Status.STOPPED)
    evisit(tw, EVisit.Status.WITHDRAWN)
    answered(tw, days_ago=40)  # old news
    assert card(evisits_card, alice(tw)) is None
    assert ">E-visits</h2>" not in home(tw.world)


def test_a_waiting_evisit_shows_with_its_link(tw: TelehealthWorld) -> None:
    waiting = evisit(tw, EVisit.Status.SUBMITTED)
    page = home(tw.world)
    assert ">E-visits</h2>" in page
    assert reverse("evisits:detail", args=[waiting.pk]) in page and "Waiting for a clinician" in page
    assert reverse("evisits:list") in page


def test_an_answer_shows_until_this_user_opens_it(tw: TelehealthWorld) -> None:
    reply = answered(tw)
    redirected = answered(tw, EVisit.Status.REDIRECTED)
    page = home(tw.world)
    assert "New answer" in page and "New: needs a visit" in page
    assert reverse("evisits:detail", args=[reply.pk]) in page
    proxy = Client()
    proxy.force_login(tw.world.proxy_user)
    proxy.get(reverse("evisits:detail", args=[reply.pk]))
    assert "New answer" in home(tw.world)  # Pat opening it is not Alice opening it
    assert "New answer" not in home(tw.world, "proxy")
    alice_client = Client()
    alice_client.force_login(tw.world.alice_user)
    alice_client.get(reverse("evisits:detail", args=[reply.pk]))
    alice_client.get(reverse("evisits:detail", args=[redirected.pk]))
    assert ">E-visits</h2>" not in home(tw.world)


def test_an_answer_read_before_the_reply_is_still_news(tw: TelehealthWorld) -> None:
    sent = evisit(tw, EVisit.Status.SUBMITTED)
    client = Client()
    client.force_login(tw.world.alice_user)
    client.get(reverse("evisits:detail", args=[sent.pk]))
    EVisit.objects.filter(pk=sent.pk).update(
        status=EVisit.Status.COMPLETED, replied_at=timezone.now() + dt.timedelta(seconds=1)
    )
    found = card(evisits_card, alice(tw))
    assert found is not None and [row.pk for row in found.context["answered"]] == [sent.pk]


def test_no_evisit_card_for_staff_access_or_without_the_message_scope(tw: TelehealthWorld) -> None:
    evisit(tw, EVisit.Status.SUBMITTED)
    staff = PatientAccess(tw.world.clinician, tw.world.alice, Role.STAFF, ALL_SCOPES)
    assert card(evisits_card, staff) is None
    viewer = make_user("vic")
    ProxyGrant.objects.create(
        grantee=viewer,
        patient=tw.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=tw.world.proxy_grant.starts_at,
    )
    assert card(evisits_card, patient_access(viewer, tw.world.alice)) is None
    assert ">E-visits</h2>" not in home(tw.world, "other_patient")


def test_the_evisit_card_costs_two_queries_however_long_the_history(tw: TelehealthWorld) -> None:
    from portal.patients.access import record_read

    answered(tw)
    access = alice(tw)
    assert query_count(lambda: card(evisits_card, access)) == 2
    request = RequestFactory().get("/")
    request.user = tw.world.alice_user
    for _number in range(30):
        row = answered(tw)
        evisit(tw, EVisit.Status.SUBMITTED)
        record_read(request, access, "telehealth.evisit_view", obj=row)
    found = card(evisits_card, access)
    assert found is not None and found.context["more"]
    assert len(found.context["answered"]) + len(found.context["waiting"]) <= 6
    assert query_count(lambda: card(evisits_card, access)) == 2
