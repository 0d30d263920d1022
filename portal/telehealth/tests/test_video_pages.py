"""The patient's video visit pages: who may open them, each state, joining, leaving, the join button."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.patients.access import decide
from portal.patients.models import ProxyGrant, Scope
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.call import call_config
from portal.telehealth.models import ChatLine, Participant, Signal, VideoVisit
from portal.telehealth.tests.support import (
    TelehealthWorld,
    client_for,
    host_access,
    in_call,
    telehealth_world,
    video_appointment,
    waiting_patient,
)
from portal.test import World, query_count

pytestmark = pytest.mark.django_db

REFUSED = ("other_patient", "clinician", "unassigned_staff", "admin")
CONFIG = re.compile(r'<script id="video-config" type="application/json">(.*?)</script>', re.S)


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def visit_url(appointment: Appointment) -> str:
    return reverse("video:visit", args=[appointment.pk])


def join_url(appointment: Appointment) -> str:
    return reverse("video:join", args=[appointment.pk])


def leave_url(appointment: Appointment) -> str:
    return reverse("video:leave", args=[appointment.pk])


def config_of(page: str) -> dict:
    found = CONFIG.search(page)
    assert found, "the page has no video configuration"
    return json.loads(found.group(1))


# Who may open it ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["patient", "proxy"])
def test_the_patient_and_the_proxy_get_the_device_check(tw: TelehealthWorld, persona: str) -> None:
    response = client_for(tw.world.persona(persona)).get(visit_url(tw.appointment))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Check your camera, microphone and speaker" in page
    assert "Join the waiting room" in page
    assert "js/device-check.js" in page
    assert "Video visits need JavaScript" in page and 'href="tel:507-555-0101"' in page
    assert ("For Alice" in page) is (persona == "proxy")
    assert AuditEvent.objects.filter(
        action="telehealth.video_view", patient=tw.world.alice, object_id=str(tw.appointment.pk)
    ).exists()


@pytest.mark.parametrize("persona", REFUSED)
def test_everyone_else_gets_the_missing_page(tw: TelehealthWorld, persona: str) -> None:
    client = client_for(tw.world.persona(persona))
    for url in (visit_url(tw.appointment), join_url(tw.appointment), leave_url(tw.appointment)):
        method = client.get if url == visit_url(tw.appointment) else client.post
        assert method(url).status_code == 404
    assert not Participant.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", actor=tw.world.persona(persona)).exists()


def test_a_stranger_cannot_tell_a_visit_from_a_missing_one(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.bob_user)
    refused = client.get(visit_url(tw.appointment))
    missing = client.get(reverse("video:visit", args=[999_999]))
    assert refused.status_code == missing.status_code == 404


def test_anonymous_is_sent_to_sign_in(tw: TelehealthWorld) -> None:
    client = Client()
    for url in (visit_url(tw.appointment), join_url(tw.appointment), leave_url(tw.appointment)):
        response = client.get(url) if url == visit_url(tw.appointment) else client.post(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_in_person_appointment_has_no_video_page(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).update(mode="in_person")
    client = client_for(tw.world.alice_user)
    assert client.get(visit_url(tw.appointment)).status_code == 404
    assert client.post(join_url(tw.appointment)).status_code == 404


def test_wrong_methods_are_refused_plainly(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.alice_user)
    assert client.get(join_url(tw.appointment)).status_code == 405
    assert client.get(leave_url(tw.appointment)).status_code == 405
    assert client.post(visit_url(tw.appointment)).status_code == 405


# The window ---------------------------------------------------------------------------------


def test_before_the_window_it_says_when_it_opens_in_campus_time(tw: TelehealthWorld) -> None:
    later = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(hours=3))
    client = client_for(tw.world.alice_user)
    page = client.get(visit_url(later)).content.decode()
    assert "This visit is not open yet" in page
    assert "(Central time)" in page and "15 minutes before the start" in page
    assert 'href="tel:507-555-0101"' in page
    assert "Join the waiting room" not in page
    client.post(join_url(later))
    assert not Participant.objects.filter(visit__appointment=later).exists()


def test_after_the_window_it_is_closed(tw: TelehealthWorld) -> None:
    past = video_appointment(tw.sw, tw.world.alice, starts_in=-dt.timedelta(hours=3))
    page = client_for(tw.world.alice_user).get(visit_url(past)).content.decode()
    assert "The time for this visit has passed" in page
    assert "Join the waiting room" not in page


def test_a_cancelled_visit_says_so(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).update(status=Appointment.Status.CANCELLED)
    client = client_for(tw.world.alice_user)
    page = client.get(visit_url(tw.appointment)).content.decode()
    assert "This visit was cancelled" in page
    response = client.post(join_url(tw.appointment), follow=True)
    assert "cannot be joined now" in response.content.decode()
    assert not Participant.objects.exists()


def test_an_ended_visit_says_so(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    video.do_end_visit(Actor(user=tw.world.clinician), host_access(tw), host.visit)
    client = client_for(tw.world.alice_user)
    page = client.get(visit_url(tw.appointment)).content.decode()
    assert "The visit has ended" in page and "video-config" not in page
    client.post(join_url(tw.appointment))
    assert Participant.objects.get(user=tw.world.alice_user).status == Participant.Status.LEFT


# Joining, waiting, the call -----------------------------------------------------------------


def test_joining_puts_the_patient_in_the_waiting_room(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.alice_user)
    response = client.post(join_url(tw.appointment))
    assert response.status_code == 302 and response["Location"] == visit_url(tw.appointment)
    participant = Participant.objects.get(user=tw.world.alice_user)
    assert participant.status == Participant.Status.WAITING
    assert AuditEvent.objects.filter(action="telehealth.joined", patient=tw.world.alice).count() == 1

    page = client.get(visit_url(tw.appointment)).content.decode()
    assert "Waiting room" in page and "Your clinician has been told you are here." in page
    assert "js/video-visit.js" in page
    assert re.search(r'<section id="video-call"[^>]*\bhidden\b', page)
    config = config_of(page)
    assert config["me"] == participant.pk and config["side"] == "patient"
    assert config["api"]["poll"] == reverse("video_api:poll", args=[tw.appointment.pk])
    assert config["loopbackOnly"] is True and config["canShareScreen"] is False


def test_the_waiting_room_says_when_the_clinician_has_seen_them(tw: TelehealthWorld) -> None:
    participant = waiting_patient(tw)
    Participant.objects.filter(pk=participant.pk).update(seen_by_host_at=timezone.now())
    page = client_for(tw.world.alice_user).get(visit_url(tw.appointment)).content.decode()
    assert "Your clinician has seen that you are waiting." in page


def test_once_admitted_the_page_is_the_call(tw: TelehealthWorld) -> None:
    in_call(tw)
    page = client_for(tw.world.alice_user).get(visit_url(tw.appointment)).content.decode()
    assert re.search(r'<section id="video-call"[^>]*data-video-call>', page)
    assert re.search(r'<section class="card video-waiting" id="video-waiting"[^>]*hidden', page)
    assert 'id="video-share"' not in page  # the clinician's only
    assert "End the visit for everyone" not in page


def test_the_proxy_joins_as_proxy(tw: TelehealthWorld) -> None:
    client_for(tw.world.proxy_user).post(join_url(tw.appointment))
    assert Participant.objects.get(user=tw.world.proxy_user).role == Participant.Role.PROXY


def test_leaving_and_coming_back(tw: TelehealthWorld) -> None:
    in_call(tw)
    client = client_for(tw.world.alice_user)
    response = client.post(leave_url(tw.appointment), follow=True)
    page = response.content.decode()
    assert "You left the visit" in page and "Join again" in page
    assert Participant.objects.get(user=tw.world.alice_user).status == Participant.Status.LEFT
    assert AuditEvent.objects.filter(action="telehealth.left", patient=tw.world.alice).count() == 1

    client.post(join_url(tw.appointment))
    # Leaving was their choice: coming back, they wait to be let in again.
    participant = Participant.objects.get(user=tw.world.alice_user)
    assert participant.status == Participant.Status.WAITING and participant.seen_by_host_at is None
    page = client.get(visit_url(tw.appointment)).content.decode()
    assert re.search(r'<section id="video-call"[^>]*\bhidden\b', page)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), participant.visit)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ADMITTED


def test_a_proxy_who_may_only_manage_appointments_cannot_open_or_join(tw: TelehealthWorld) -> None:
    ProxyGrant.objects.filter(pk=tw.world.proxy_grant.pk).update(scopes=[Scope.SCHEDULE])
    client = client_for(tw.world.proxy_user)
    assert client.get(visit_url(tw.appointment)).status_code == 404
    assert client.post(join_url(tw.appointment)).status_code == 404
    assert not Participant.objects.filter(user=tw.world.proxy_user).exists()
    refused = AuditEvent.objects.filter(action="access.refused", actor_id=tw.world.proxy_user.pk)
    assert refused.count() == 2
    # The appointment itself stays theirs to manage, without the way into the call.
    page = client.get(reverse("appointments:detail", args=[tw.appointment.pk])).content.decode()
    assert "Join video visit" not in page and "can join this video visit" in page
    access = decide(tw.world.proxy_user, tw.world.alice)
    assert access is not None
    with pytest.raises(video.NotAllowed):
        video.do_enter_waiting_room(Actor(user=tw.world.proxy_user), access, tw.appointment)


def test_a_proxy_whose_grant_is_revoked_loses_the_visit(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.proxy_user)
    client.post(join_url(tw.appointment))
    tw.world.proxy_grant.revoked_at = timezone.now()
    tw.world.proxy_grant.save()
    assert client.get(visit_url(tw.appointment)).status_code == 404
    assert client.post(leave_url(tw.appointment)).status_code == 404
    assert client.post(join_url(tw.appointment)).status_code == 404


def test_leave_without_a_seat_is_missing(tw: TelehealthWorld) -> None:
    assert client_for(tw.world.alice_user).post(leave_url(tw.appointment)).status_code == 404


def test_the_clinician_leaves_through_the_same_call_ui(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    response = client_for(tw.world.clinician).post(leave_url(tw.appointment))
    assert response.status_code == 302
    assert response["Location"] == reverse("staff_video:visit", args=[tw.appointment.pk])
    host.refresh_from_db()
    assert host.status == Participant.Status.LEFT


def test_a_clinician_who_is_also_the_patient_gets_no_staff_rights_here(tw: TelehealthWorld) -> None:
    # Carol's seat as host does not make the patient page hers.
    in_call(tw)
    assert client_for(tw.world.clinician).get(visit_url(tw.appointment)).status_code == 404


# Query counts -------------------------------------------------------------------------------


def test_the_page_costs_the_same_however_long_the_call(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    client = client_for(tw.world.alice_user)
    url = visit_url(tw.appointment)
    client.get(url)
    small = query_count(lambda: client.get(url))
    for number in range(30):
        ChatLine.objects.create(visit=host.visit, sender=host, body=f"line {number}")
        Signal.objects.create(
            visit=host.visit,
            sender=host,
            sender_session="s",
            recipient=patient,
            recipient_session="t",
            kind="candidate",
            payload={},
        )
    assert query_count(lambda: client.get(url)) == small
    assert small <= 30


def test_the_device_check_costs_a_bounded_number_of_queries(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.alice_user)
    url = visit_url(tw.appointment)
    client.get(url)
    assert query_count(lambda: client.get(url)) <= 30


# The contract -------------------------------------------------------------------------------


def test_call_config_is_the_contract(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    request = RequestFactory().get("/")
    config = call_config(request, host, tw.appointment, "staff")
    args = [tw.appointment.pk]
    assert config["api"] == {
        "poll": reverse("video_api:poll", args=args),
        "signal": reverse("video_api:signal", args=args),
        "chat": reverse("video_api:chat", args=args),
    }
    assert config["me"] == host.pk and config["side"] == "staff"
    assert config["iceServers"] == [] and config["loopbackOnly"] is True
    assert config["pollMs"] == 1000 and config["phone"] == "507-555-0101"
    assert config["leaveUrl"] == reverse("video:leave", args=args)
    assert config["endUrl"] == reverse("staff_video:end", args=args)
    assert config["admitUrl"] == reverse("staff_video:admit", args=args)
    assert config["removeUrl"] == reverse("staff_video:remove", args=args)
    assert config["roleNames"]["proxy"] == "Family member or carer"
    assert config["canShareScreen"] is True
    assert "507-555-0101" in config["text"]["noWebrtc"]


# The join button on the appointment pages ---------------------------------------------------


def test_the_appointment_pages_offer_to_join_inside_the_window(tw: TelehealthWorld) -> None:
    client = client_for(tw.world.alice_user)
    detail = client.get(reverse("appointments:detail", args=[tw.appointment.pk])).content.decode()
    listing = client.get(reverse("appointments:list")).content.decode()
    for page in (detail, listing):
        assert "Join video visit" in page and visit_url(tw.appointment) in page


def test_before_the_window_the_pages_say_when_it_opens(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).delete()
    later = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(days=2))
    client = client_for(tw.world.alice_user)
    detail = client.get(reverse("appointments:detail", args=[later.pk])).content.decode()
    listing = client.get(reverse("appointments:list")).content.decode()
    assert "opens 15 minutes before" in detail and "Join video visit" not in detail
    assert "You can join from 15 minutes before the start." in listing
    assert "Join video visit" not in listing


def test_an_ended_video_visit_offers_nothing(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).update(status=Appointment.Status.FULFILLED)
    detail = client_for(tw.world.alice_user).get(reverse("appointments:detail", args=[tw.appointment.pk]))
    page = detail.content.decode()
    assert "Join video visit" not in page and "opens 15 minutes before" not in page
    assert not VideoVisit.objects.exists()
