"""The clinician's side of video visits: the day's list, who is waiting, the visit page and its POSTs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.access import visit_access
from portal.patients.models import ProxyGrant, Scope
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.models import Participant, VideoVisit
from portal.telehealth.tests.support import (
    TelehealthWorld,
    host_access,
    in_call,
    telehealth_world,
    video_appointment,
    waiting_patient,
)
from portal.test import World, assert_same_as_missing, make_patient, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654
POSTS = ("join", "admit", "remove", "end", "complete", "invite")


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, tw: TelehealthWorld, *extra: int) -> str:
    return reverse(f"staff_video:{name}", args=[tw.appointment.pk, *extra])


def invite_ivy(tw: TelehealthWorld) -> Participant:
    return video.do_invite(Actor(user=tw.world.clinician), host_access(tw), tw.appointment, tw.interpreter)


def strangers(tw: TelehealthWorld) -> list[User]:
    world = tw.world
    return [
        tw.second_clinician,
        world.unassigned_staff,
        world.admin,
        world.scheduler,
        world.alice_user,
        world.proxy_user,
        world.bob_user,
    ]


def seat(tw: TelehealthWorld, user: User) -> Participant | None:
    return Participant.objects.filter(visit__appointment=tw.appointment, user=user).first()


# The day's list ----------------------------------------------------------------------------


def test_the_list_shows_the_hosts_visits_with_who_is_waiting(tw: TelehealthWorld) -> None:
    waiting_patient(tw)
    later = video_appointment(tw.sw, tw.world.bob, starts_in=dt.timedelta(days=2))
    response = signed_in(tw.world.clinician).get(reverse("staff_video:today"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Alice Able" in text and "Bob Baker" in text
    assert text.index("Alice Able") < text.index("Bob Baker")
    assert "Patient waiting since" in text and "place 1 in line" in text
    assert "(Central time)" in text and "Not started" in text
    assert reverse("staff_video:visit", args=[later.pk]) in text
    assert 'hx-trigger="every 5s"' in text
    event = AuditEvent.objects.get(action="telehealth.video_list")
    assert event.detail["patients"] == sorted([tw.world.alice.pk, tw.world.bob.pk])
    assert event.actor_role == "staff"


def test_finished_visits_come_after_and_the_newest_first(tw: TelehealthWorld) -> None:
    earlier = video_appointment(tw.sw, tw.world.bob, starts_in=dt.timedelta(hours=-3))
    Appointment.objects.filter(pk=earlier.pk).update(status=Appointment.Status.FULFILLED)
    in_call(tw)
    text = signed_in(tw.world.clinician).get(reverse("staff_video:today")).content.decode()
    assert text.index("Coming up and in progress") < text.index("In progress") < text.index("Finished")
    assert text.index("Finished") < text.index("Bob Baker") and "Completed" in text


def test_an_invited_interpreter_sees_the_visit_they_are_invited_to(tw: TelehealthWorld) -> None:
    invite_ivy(tw)
    text = signed_in(tw.interpreter).get(reverse("staff_video:today")).content.decode()
    assert "Alice Able" in text and "hosted by Dr. Carol Staff" in text


def test_staff_with_no_video_visits_get_an_empty_list(tw: TelehealthWorld) -> None:
    for user in (tw.world.unassigned_staff, tw.second_clinician):
        response = signed_in(user).get(reverse("staff_video:today"))
        assert response.status_code == 200
        assert "Alice Able" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="telehealth.video_list").exists()


def test_the_list_is_for_clinicians_and_interpreters_only(tw: TelehealthWorld) -> None:
    world = tw.world
    for user in (world.admin, world.scheduler, world.alice_user, world.proxy_user, world.bob_user):
        assert signed_in(user).get(reverse("staff_video:today")).status_code == 404
        assert signed_in(user).get(reverse("staff_video:waiting")).status_code == 404
    anonymous = Client().get(reverse("staff_video:today"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_menu_links_video_visits_for_clinicians_and_interpreters(tw: TelehealthWorld) -> None:
    link = f'href="{reverse("staff_video:today")}"'
    for user, shown in (
        (tw.world.clinician, True),
        (tw.interpreter, True),
        (tw.world.unassigned_staff, True),
        (tw.world.scheduler, False),
        (tw.world.admin, False),
    ):
        assert (link in signed_in(user).get(reverse("staff:home")).content.decode()) is shown


def test_the_list_leaves_out_the_clinicians_own_and_familys_visits(tw: TelehealthWorld) -> None:
    ProxyGrant.objects.create(
        grantee=tw.world.clinician,
        patient=tw.world.bob,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    video_appointment(tw.sw, tw.world.bob)
    text = signed_in(tw.world.clinician).get(reverse("staff_video:today")).content.decode()
    assert "Alice Able" in text and "Bob Baker" not in text


def test_the_list_runs_a_fixed_number_of_queries(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    client.get(reverse("staff_video:today"))

    def list_with(count: int) -> int:
        Appointment.objects.all().delete()
        for number in range(count):
            patient = make_patient(f"2{count:03d}{number:04d}", f"P{number}", "Many", tw.world.campus)
            appointment = video_appointment(tw.sw, patient, starts_in=dt.timedelta(minutes=5 + 30 * number))
            visit = VideoVisit.objects.create(appointment=appointment)
            if number % 2 == 0:
                Participant.objects.create(
                    visit=visit,
                    user=tw.world.bob_user,
                    role=Participant.Role.PATIENT,
                    status=Participant.Status.WAITING,
                    display_name="Someone",
                    waiting_since=timezone.now(),
                    last_seen_at=timezone.now(),
                )
        queries = query_count(lambda: client.get(reverse("staff_video:today")))
        assert Appointment.objects.count() == count
        return queries

    assert list_with(1) == list_with(20)


# Who is waiting now ------------------------------------------------------------------------


def test_the_waiting_box_lists_who_waits_and_answers_204_while_unchanged(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    started = int(timezone.now().timestamp())
    empty = client.get(reverse("staff_video:waiting"), {"started": started})
    assert "No one is waiting." in empty.content.decode()
    assert not AuditEvent.objects.filter(action="telehealth.video_list").exists()
    seen = empty.context["digest"]
    assert client.get(reverse("staff_video:waiting"), {"seen": seen, "started": started}).status_code == 204
    waiting_patient(tw)
    changed = client.get(reverse("staff_video:waiting"), {"seen": seen, "started": started})
    text = changed.content.decode()
    assert changed.status_code == 200
    assert "Alice Able" in text and url("visit", tw) in text and "Open the visit" in text
    assert f"seen={changed.context['digest']}" in text and 'hx-trigger="every 5s"' in text
    assert AuditEvent.objects.filter(action="telehealth.video_list").count() == 1
    again = client.get(
        reverse("staff_video:waiting"), {"seen": changed.context["digest"], "started": started}
    )
    assert again.status_code == 204
    assert AuditEvent.objects.filter(action="telehealth.video_list").count() == 1


def test_a_proxy_waiting_is_named_with_the_patient(tw: TelehealthWorld) -> None:
    waiting_patient(tw, tw.world.proxy_user)
    text = signed_in(tw.world.clinician).get(reverse("staff_video:waiting")).content.decode()
    assert "Alice Able" in text and "(with Pat Able, family member or carer)" in text


def test_a_patient_whose_page_went_quiet_is_marked(tw: TelehealthWorld) -> None:
    participant = waiting_patient(tw)
    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - dt.timedelta(minutes=5)
    )
    text = signed_in(tw.world.clinician).get(reverse("staff_video:waiting")).content.decode()
    assert "they may have left" in text


def test_polling_stops_before_the_idle_sign_out(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    old = int((timezone.now() - dt.timedelta(minutes=15)).timestamp())
    response = client.get(reverse("staff_video:waiting"), {"started": old})
    text = response.content.decode()
    assert response.status_code == 200 and "hx-trigger" not in text and "Live updates are paused" in text


@pytest.mark.parametrize(
    "params",
    [{"seen": "zz"}, {"started": "abc"}, {"started": "-5"}, {"seen": "a" * 5000}, {"started": "9" * 80}],
)
def test_bad_poll_parameters_are_shrugged_off(tw: TelehealthWorld, params: dict[str, str]) -> None:
    response = signed_in(tw.world.clinician).get(reverse("staff_video:waiting"), params)
    assert response.status_code == 200
    assert "Live updates are paused" in response.content.decode()


def test_the_waiting_box_runs_a_fixed_number_of_queries(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    client.get(reverse("staff_video:waiting"))

    def waiting_with(count: int) -> int:
        Appointment.objects.all().delete()
        for number in range(count):
            patient = make_patient(f"3{count:03d}{number:04d}", f"W{number}", "Many", tw.world.campus)
            appointment = video_appointment(tw.sw, patient, starts_in=dt.timedelta(minutes=5))
            Participant.objects.create(
                visit=VideoVisit.objects.create(appointment=appointment),
                user=tw.world.bob_user,
                role=Participant.Role.PATIENT,
                status=Participant.Status.WAITING,
                display_name="Someone",
                waiting_since=timezone.now(),
                last_seen_at=timezone.now(),
            )
        return query_count(lambda: client.get(reverse("staff_video:waiting")))

    assert waiting_with(1) == waiting_with(20)


# The visit page ----------------------------------------------------------------------------


def test_the_host_sees_the_patient_reason_and_campus_phone(tw: TelehealthWorld) -> None:
    response = signed_in(tw.world.clinician).get(url("visit", tw))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Alice Able" in text and "Follow-up on blood pressure" in text
    assert tw.sw.video.name in text and tw.world.campus.appointments_phone in text
    assert " years" in text and "Join the visit" in text and "Invite" in text and "Mark completed" in text
    event = AuditEvent.objects.get(action="telehealth.video_view")
    assert event.patient_id == tw.world.alice.pk and event.actor_role == "staff"


def test_an_invited_interpreter_may_open_and_join_but_not_manage(tw: TelehealthWorld) -> None:
    invite_ivy(tw)
    client = signed_in(tw.interpreter)
    text = client.get(url("visit", tw)).content.decode()
    assert "Join the visit" in text and "Mark completed" not in text and "Withdraw" not in text
    assert url("invite", tw) not in text
    assert client.post(url("join", tw)).status_code == 302
    participant = seat(tw, tw.interpreter)
    assert participant is not None
    assert (
        participant.status == Participant.Status.ADMITTED and participant.role == Participant.Role.INTERPRETER
    )
    page = client.get(url("visit", tw))
    assert page.context["video_config"]["endUrl"] == ""
    assert url("admit", tw) not in page.content.decode()


@pytest.mark.parametrize("name", ["visit", *POSTS])
def test_strangers_get_the_missing_page(tw: TelehealthWorld, name: str) -> None:
    for user in strangers(tw):
        client = signed_in(user)
        call = client.get if name == "visit" else client.post
        missing = call(reverse(f"staff_video:{name}", args=[MISSING]))
        assert_same_as_missing(call(url(name, tw)), missing)
    assert seat(tw, tw.second_clinician) is None
    assert AuditEvent.objects.filter(action="access.refused").exists()
    anonymous = Client()
    response = anonymous.get(url("visit", tw)) if name == "visit" else anonymous.post(url(name, tw))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_in_person_appointment_is_not_a_video_visit(tw: TelehealthWorld) -> None:
    Appointment.objects.filter(pk=tw.appointment.pk).update(mode="in_person")
    assert signed_in(tw.world.clinician).get(url("visit", tw)).status_code == 404


def test_posts_only(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    for name in POSTS:
        assert client.get(url(name, tw)).status_code == 405
    assert seat(tw, tw.world.clinician) is None


# Joining, admitting, ending, completing -----------------------------------------------------


def test_the_host_joins_and_gets_the_call(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    response = client.post(url("join", tw))
    assert response.status_code == 302 and response["Location"] == url("visit", tw)
    participant = seat(tw, tw.world.clinician)
    assert participant is not None
    assert participant.role == Participant.Role.HOST and participant.status == Participant.Status.ADMITTED
    assert AuditEvent.objects.filter(action="telehealth.staff_joined", patient=tw.world.alice).exists()
    page = client.get(url("visit", tw))
    text = page.content.decode()
    assert 'id="video-config"' in text and "js/video-visit.js" in text
    config = page.context["video_config"]
    assert config["side"] == "staff" and config["me"] == participant.pk and config["endUrl"] == url("end", tw)
    assert "data-video-waiting-list" in text and 'data-video-action="admit"' in text


def test_joining_outside_the_window_is_refused_with_a_message(tw: TelehealthWorld) -> None:
    later = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(hours=3))
    client = signed_in(tw.world.clinician)
    text = client.get(reverse("staff_video:visit", args=[later.pk])).content.decode()
    assert "The visit opens at" in text and "Join the visit" not in text
    response = client.post(reverse("staff_video:join", args=[later.pk]), follow=True)
    assert "cannot be joined now" in response.content.decode()
    assert not Participant.objects.filter(visit__appointment=later).exists()


def test_the_host_admits_the_waiting_patient(tw: TelehealthWorld) -> None:
    patient = waiting_patient(tw)
    client = signed_in(tw.world.clinician)
    client.post(url("join", tw))
    response = client.post(url("admit", tw), follow=True)
    assert "Admitted 1 person." in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == Participant.Status.ADMITTED
    assert VideoVisit.objects.get(appointment=tw.appointment).status == VideoVisit.Status.IN_PROGRESS
    assert AuditEvent.objects.filter(action="telehealth.admitted", patient=tw.world.alice).exists()
    again = client.post(url("admit", tw), follow=True)
    assert "No one is waiting to be admitted." in again.content.decode()


@pytest.mark.parametrize("name", ["admit", "remove", "end", "complete", "invite"])
def test_invited_staff_may_not_manage_the_visit(tw: TelehealthWorld, name: str) -> None:
    patient = waiting_patient(tw)
    invite_ivy(tw)
    client = signed_in(tw.interpreter)
    client.post(url("join", tw))
    response = client.post(url(name, tw), {"practitioner": tw.second_clinician.practitioner.pk})
    assert response.status_code == 403
    assert "Only the host can do that" in response.content.decode()
    patient.refresh_from_db()
    tw.appointment.refresh_from_db()
    assert patient.status == Participant.Status.WAITING
    assert tw.appointment.status == Appointment.Status.ARRIVED
    assert seat(tw, tw.second_clinician) is None
    assert not VideoVisit.objects.filter(status=VideoVisit.Status.ENDED).exists()


def test_the_host_admits_one_person_at_a_time(tw: TelehealthWorld) -> None:
    patient = waiting_patient(tw)
    proxy = waiting_patient(tw, tw.world.proxy_user)
    client = signed_in(tw.world.clinician)
    client.post(url("join", tw))
    text = client.get(url("visit", tw)).content.decode()
    assert text.count('data-video-action="admit-one"') == 2
    assert f'name="participant" value="{proxy.pk}"' in text and "Admit everyone waiting" in text
    response = client.post(url("admit", tw), {"participant": proxy.pk}, follow=True)
    assert "Admitted 1 person." in response.content.decode()
    assert seat(tw, tw.world.proxy_user).status == Participant.Status.ADMITTED  # type: ignore[union-attr]
    assert seat(tw, tw.world.alice_user).status == Participant.Status.WAITING  # type: ignore[union-attr]
    again = client.post(url("admit", tw), {"participant": proxy.pk}, follow=True)
    assert "That person is no longer waiting to be admitted." in again.content.decode()
    patient.refresh_from_db()
    assert patient.status == Participant.Status.WAITING


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5", "9" * 30, "٣", str(2**31)])
def test_nonsense_participant_ids_admit_no_one(tw: TelehealthWorld, value: str) -> None:
    waiting_patient(tw)
    client = signed_in(tw.world.clinician)
    client.post(url("join", tw))
    for name in ("admit", "remove"):
        response = client.post(url(name, tw), {"participant": value}, follow=True)
        assert response.status_code == 200
    assert seat(tw, tw.world.alice_user).status == Participant.Status.WAITING  # type: ignore[union-attr]
    assert not AuditEvent.objects.filter(action__in=("telehealth.admitted", "telehealth.removed")).exists()


def test_the_host_sends_the_patient_back_to_the_waiting_room(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    client = signed_in(tw.world.clinician)
    text = client.get(url("visit", tw)).content.decode()
    assert "Send back to the waiting room" in text and 'data-video-action="remove"' in text
    assert f'name="participant" value="{patient.pk}"' in text
    response = client.post(url("remove", tw), {"participant": patient.pk}, follow=True)
    assert "Alice Able is back in the waiting room." in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == Participant.Status.WAITING
    assert AuditEvent.objects.filter(action="telehealth.removed", patient=tw.world.alice).count() == 1
    # Not staff, not twice, not without a name.
    for value in (host.pk, patient.pk, ""):
        answer = client.post(url("remove", tw), {"participant": value}, follow=True)
        assert "That person is not in the call." in answer.content.decode()
    host.refresh_from_db()
    assert host.status == Participant.Status.ADMITTED
    assert AuditEvent.objects.filter(action="telehealth.removed").count() == 1


def test_only_the_host_sees_the_admit_and_send_back_buttons(tw: TelehealthWorld) -> None:
    in_call(tw)
    waiting_patient(tw, tw.world.proxy_user)
    invite_ivy(tw)
    client = signed_in(tw.interpreter)
    client.post(url("join", tw))
    page = client.get(url("visit", tw))
    text = page.content.decode()
    assert "data-video-waiting-list" in text and "data-video-peer-list" in text
    assert 'data-video-action="admit-one"' not in text and 'data-video-action="remove"' not in text
    config = page.context["video_config"]
    assert config["admitUrl"] == "" and config["removeUrl"] == "" and config["endUrl"] == ""


# Invitations and old seats ------------------------------------------------------------------


def test_an_old_host_seat_is_not_an_invitation(tw: TelehealthWorld) -> None:
    """Carol hosted, then the visit moved to Dave: her seat (role host) no longer opens it."""
    in_call(tw)
    Appointment.objects.filter(pk=tw.appointment.pk).update(
        practitioner=tw.world.unassigned_staff.practitioner
    )
    carol = signed_in(tw.world.clinician)
    assert carol.get(url("visit", tw)).status_code == 404
    assert carol.post(url("join", tw)).status_code == 404
    assert "Alice Able" not in carol.get(reverse("staff_video:today")).content.decode()
    host = seat(tw, tw.world.clinician)
    assert host is not None
    answer = carol.get(
        reverse("video_api:poll", args=[tw.appointment.pk]),
        {"session": host.session},
        headers={"X-Video-Poll": "1"},
    )
    assert answer.status_code == 404
    dave = signed_in(tw.world.unassigned_staff)
    assert dave.get(url("visit", tw)).status_code == 200


def test_an_invitation_lapses_two_hours_after_the_window_closes(tw: TelehealthWorld, settings: Any) -> None:
    invite_ivy(tw)
    ivy = signed_in(tw.interpreter)
    assert ivy.get(url("visit", tw)).status_code == 200
    closes_after = dt.timedelta(minutes=settings.PORTAL_VIDEO_CLOSES_MINUTES_AFTER)
    ended = timezone.now() - closes_after - dt.timedelta(hours=2) + dt.timedelta(minutes=5)
    Appointment.objects.filter(pk=tw.appointment.pk).update(
        starts_at=ended - dt.timedelta(minutes=30), ends_at=ended
    )
    assert ivy.get(url("visit", tw)).status_code == 200
    assert "Alice Able" in ivy.get(reverse("staff_video:today")).content.decode()
    Appointment.objects.filter(pk=tw.appointment.pk).update(
        starts_at=ended - dt.timedelta(minutes=40), ends_at=ended - dt.timedelta(minutes=10)
    )
    assert ivy.get(url("visit", tw)).status_code == 404
    assert "Alice Able" not in ivy.get(reverse("staff_video:today")).content.decode()
    # The host keeps the visit (to mark it completed).
    carol = signed_in(tw.world.clinician)
    assert carol.get(url("visit", tw)).status_code == 200
    assert "Alice Able" in carol.get(reverse("staff_video:today")).content.decode()


def test_the_host_ends_the_visit_for_everyone(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    client = signed_in(tw.world.clinician)
    response = client.post(url("end", tw), follow=True)
    text = response.content.decode()
    assert "The visit has ended for everyone." in text and "Mark completed" in text
    patient.refresh_from_db()
    assert patient.status == Participant.Status.LEFT
    assert AuditEvent.objects.filter(action="telehealth.ended", patient=tw.world.alice).count() == 1
    twice = client.post(url("end", tw), follow=True)
    assert "nothing to end" in twice.content.decode()
    assert AuditEvent.objects.filter(action="telehealth.ended").count() == 1


def test_completing_ends_the_call_and_fulfils_the_appointment(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    client = signed_in(tw.world.clinician)
    response = client.post(url("complete", tw), follow=True)
    assert "The visit is marked completed." in response.content.decode()
    tw.appointment.refresh_from_db()
    patient.refresh_from_db()
    assert tw.appointment.status == Appointment.Status.FULFILLED and patient.status == Participant.Status.LEFT
    assert AuditEvent.objects.filter(action="telehealth.completed", patient=tw.world.alice).exists()
    again = client.post(url("complete", tw), follow=True)
    assert "already closed" in again.content.decode()
    assert AuditEvent.objects.filter(action="telehealth.completed").count() == 1


def test_completing_after_the_call_ended(tw: TelehealthWorld) -> None:
    in_call(tw)
    client = signed_in(tw.world.clinician)
    client.post(url("end", tw))
    client.post(url("complete", tw))
    tw.appointment.refresh_from_db()
    assert tw.appointment.status == Appointment.Status.FULFILLED


def test_completing_before_the_visit_opens_is_refused(tw: TelehealthWorld) -> None:
    later = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(hours=3))
    response = signed_in(tw.world.clinician).post(
        reverse("staff_video:complete", args=[later.pk]), follow=True
    )
    assert "once it has opened" in response.content.decode()
    later.refresh_from_db()
    assert later.status == Appointment.Status.BOOKED


# Inviting --------------------------------------------------------------------------------


def test_the_host_invites_an_interpreter_who_is_told(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    choices = client.get(url("visit", tw)).context["invite_form"].fields["practitioner"].queryset
    names = {practitioner.user.username for practitioner in choices}
    assert {"ivy", "nora", "dave"} <= names
    assert not names & {"carol", "root", "sam"}
    response = client.post(url("invite", tw), {"practitioner": tw.interpreter.practitioner.pk}, follow=True)
    assert "is invited" in response.content.decode()
    participant = seat(tw, tw.interpreter)
    assert participant is not None
    assert (
        participant.role == Participant.Role.INTERPRETER and participant.status == Participant.Status.INVITED
    )
    notice = Notification.objects.get(recipient=tw.interpreter, for_staff=True)
    assert notice.link == url("visit", tw)
    assert AuditEvent.objects.filter(action="telehealth.invited", patient=tw.world.alice).exists()
    text = client.get(url("visit", tw)).content.decode()
    assert "Ivy Staff" in text and "Withdraw" in text
    assert signed_in(tw.interpreter).get(url("visit", tw)).status_code == 200


def test_nobody_on_the_patients_side_can_be_invited(tw: TelehealthWorld) -> None:
    relative = make_staff("nell", Practitioner.Role.NURSE)
    ProxyGrant.objects.create(
        grantee=relative,
        patient=tw.world.alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    client = signed_in(tw.world.clinician)
    response = client.post(url("invite", tw), {"practitioner": relative.practitioner.pk})
    assert response.status_code == 400
    assert "cannot be invited to this visit" in response.content.decode()
    assert seat(tw, relative) is None


@pytest.mark.parametrize(
    "value", ["", "abc", str(MISSING), "1" * 400, "<script>"], ids=["blank", "word", "missing", "huge", "tag"]
)
def test_bad_invitations_change_nothing(tw: TelehealthWorld, value: str) -> None:
    response = signed_in(tw.world.clinician).post(url("invite", tw), {"practitioner": value})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert not Participant.objects.exists()


def test_administrators_and_schedulers_cannot_be_invited(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    for user in (tw.world.admin, tw.world.scheduler, tw.world.clinician):
        assert client.post(url("invite", tw), {"practitioner": user.practitioner.pk}).status_code == 400
    assert not Participant.objects.exists()


def test_inviting_to_an_ended_visit_says_why(tw: TelehealthWorld) -> None:
    in_call(tw)
    client = signed_in(tw.world.clinician)
    client.post(url("end", tw))
    response = client.post(url("invite", tw), {"practitioner": tw.interpreter.practitioner.pk}, follow=True)
    assert "no one can be invited" in response.content.decode()
    assert seat(tw, tw.interpreter) is None


def test_a_refused_invitation_says_why(tw: TelehealthWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise video.NotAllowed

    monkeypatch.setattr(video, "do_invite", refuse)
    client = signed_in(tw.world.clinician)
    response = client.post(url("invite", tw), {"practitioner": tw.interpreter.practitioner.pk}, follow=True)
    assert "That person cannot be invited to this visit." in response.content.decode()


def test_the_host_withdraws_an_invitation(tw: TelehealthWorld) -> None:
    participant = invite_ivy(tw)
    ivy = signed_in(tw.interpreter)
    ivy.post(url("join", tw))
    assert ivy.post(url("withdraw_invite", tw, participant.pk)).status_code == 403
    client = signed_in(tw.world.clinician)
    response = client.post(url("withdraw_invite", tw, participant.pk), follow=True)
    assert "The invitation is withdrawn." in response.content.decode()
    participant.refresh_from_db()
    assert participant.status == Participant.Status.REMOVED
    assert AuditEvent.objects.filter(action="telehealth.uninvited", patient=tw.world.alice).exists()
    assert ivy.get(url("visit", tw)).status_code == 404
    assert ivy.post(url("join", tw)).status_code == 404
    twice = client.post(url("withdraw_invite", tw, participant.pk), follow=True)
    assert "already withdrawn" in twice.content.decode()
    again = client.post(url("invite", tw), {"practitioner": tw.interpreter.practitioner.pk})
    assert again.status_code == 302
    participant.refresh_from_db()
    assert participant.status == Participant.Status.INVITED


def test_only_invitations_can_be_withdrawn(tw: TelehealthWorld) -> None:
    patient = waiting_patient(tw)
    client = signed_in(tw.world.clinician)
    assert client.post(url("withdraw_invite", tw, patient.pk)).status_code == 404
    assert client.post(url("withdraw_invite", tw, MISSING)).status_code == 404
    other = video_appointment(tw.sw, tw.world.bob)
    access = visit_access(tw.world.clinician, tw.world.bob, booked_with=other.practitioner_id, invited=False)
    assert access is not None
    elsewhere = video.do_invite(Actor(user=tw.world.clinician), access, other, tw.interpreter)
    assert client.post(url("withdraw_invite", tw, elsewhere.pk)).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == Participant.Status.INVITED


def test_the_call_config_on_the_page_is_valid_json(tw: TelehealthWorld) -> None:
    client = signed_in(tw.world.clinician)
    client.post(url("join", tw))
    text = client.get(url("visit", tw)).content.decode()
    start = text.index('<script id="video-config" type="application/json">') + len(
        '<script id="video-config" type="application/json">'
    )
    config = json.loads(text[start : text.index("</script>", start)])
    assert config["side"] == "staff" and config["canShareScreen"] is True


def test_the_call_scripts_fetch_gets_no_message_to_show_later(tw: TelehealthWorld) -> None:
    waiting_patient(tw)
    client = signed_in(tw.world.clinician)
    client.post(url("join", tw))
    response = client.post(url("admit", tw), headers={"Sec-Fetch-Mode": "same-origin"})
    assert response.status_code == 302
    assert seat(tw, tw.world.alice_user).status == Participant.Status.ADMITTED  # type: ignore[union-attr]
    assert "Admitted 1 person." not in client.get(url("visit", tw)).content.decode()


def test_a_visit_past_its_window_cannot_be_joined(tw: TelehealthWorld) -> None:
    past = video_appointment(tw.sw, tw.world.alice, starts_in=dt.timedelta(hours=-3))
    text = signed_in(tw.world.clinician).get(reverse("staff_video:visit", args=[past.pk])).content.decode()
    assert "can no longer be joined" in text and "Join the visit" not in text and "Mark completed" in text
