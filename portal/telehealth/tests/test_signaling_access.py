"""Who may poll, signal and chat in a video visit: only a seat whose right still holds.

Everyone else (another patient, staff not in the visit, an administrator, an anonymous
visitor) gets the same JSON 404 as a missing visit, and a right that ends (a revoked
proxy grant, a withdrawn invitation) ends access at the very next request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.organization.models import Practitioner
from portal.patients.models import ProxyGrant, Scope
from portal.scheduling.models import Appointment
from portal.telehealth import video
from portal.telehealth.models import ChatLine, Participant, Signal
from portal.telehealth.tests.support import (
    TelehealthWorld,
    client_for,
    host_access,
    in_call,
    patient_access,
    telehealth_world,
    video_appointment,
    waiting_patient,
)
from portal.test import World

pytestmark = pytest.mark.django_db

ENDPOINTS = ("poll", "signal", "chat")


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def call(
    client: Client, appointment: Appointment, name: str, session: str, to: Participant | None = None
) -> Any:
    """One request to an endpoint, with a well-formed body, as the page would make it."""
    path = reverse(f"video_api:{name}", args=[appointment.pk])
    if name == "poll":
        return client.get(path, {"session": session}, headers={"X-Video-Poll": "1"})
    body: dict[str, Any] = {"session": session, "text": "Hello"}
    if name == "signal":
        assert to is not None
        body = {
            "session": session,
            "to": to.pk,
            "to_session": to.session,
            "kind": "description",
            "payload": {"type": "offer", "sdp": "v=0\r\n"},
        }
    return client.post(path, json.dumps(body), content_type="application/json")


def assert_json_404(response: Any) -> None:
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found."}


def admitted_proxy(tw: TelehealthWorld) -> Participant:
    waiting = waiting_patient(tw, tw.world.proxy_user)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), waiting.visit)
    waiting.refresh_from_db()
    return waiting


def joined_staff(tw: TelehealthWorld, user: User) -> Participant:
    video.do_invite(Actor(user=tw.world.clinician), host_access(tw), tw.appointment, user)
    return video.do_staff_join(Actor(user=user), host_access(tw, user), tw.appointment)


# Those with a seat ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "proxy", "host", "interpreter"])
def test_everyone_with_a_seat_may_poll_signal_and_chat(tw: TelehealthWorld, who: str) -> None:
    host, patient = in_call(tw)
    seats = {
        "patient": (tw.world.alice_user, patient, host),
        "proxy": (tw.world.proxy_user, admitted_proxy(tw), host),
        "host": (tw.world.clinician, host, patient),
        "interpreter": (tw.interpreter, joined_staff(tw, tw.interpreter), patient),
    }
    user, me, peer = seats[who]
    client = client_for(user)
    for name in ENDPOINTS:
        response = call(client, tw.appointment, name, me.session, to=peer)
        assert response.status_code == 200, (name, response.content)
    assert response.json()["id"] == ChatLine.objects.get(sender=me).pk
    assert Signal.objects.filter(sender=me, recipient=peer).count() == 1
    assert not AuditEvent.objects.filter(action="access.refused").exists()


# Those without one ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["other_patient", "unassigned_staff", "admin"])
def test_a_stranger_gets_the_404_of_a_missing_visit_audited(tw: TelehealthWorld, who: str) -> None:
    host, patient = in_call(tw)
    client = client_for(tw.world.persona(who))
    for name in ENDPOINTS:
        assert_json_404(call(client, tw.appointment, name, patient.session, to=host))
        missing = Appointment(pk=999_999_999)
        assert_json_404(call(client, missing, name, patient.session, to=host))
    refused = AuditEvent.objects.filter(action="access.refused", actor_id=tw.world.persona(who).pk)
    assert refused.count() == 2 * len(ENDPOINTS)
    assert not Signal.objects.exists()
    assert not ChatLine.objects.exists()


def test_anonymous_gets_a_json_404_not_a_sign_in_page(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    for name in ENDPOINTS:
        assert_json_404(call(Client(), tw.appointment, name, patient.session, to=host))
    assert not Signal.objects.exists() and not ChatLine.objects.exists()


def test_another_patient_in_their_own_call_cannot_reach_alices(tw: TelehealthWorld) -> None:
    """Bob, admitted to his own video visit with Carol, guesses Alice's participant id and session."""
    host, patient = in_call(tw)
    carol = client_for(tw.world.clinician)
    call(carol, tw.appointment, "signal", host.session, to=patient)
    call(carol, tw.appointment, "chat", host.session)

    bobs_appointment = video_appointment(tw.sw, tw.world.bob)
    bob_user, bob_patient = tw.world.bob_user, tw.world.bob
    bob = video.do_enter_waiting_room(
        Actor(user=bob_user), patient_access(bob_user, bob_patient), bobs_appointment
    )
    bobs_host = video.do_staff_join(Actor(user=tw.world.clinician), host_access(tw), bobs_appointment)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), bobs_host.visit)
    bob.refresh_from_db()
    client = client_for(bob_user)

    # Through his own visit: Alice is not in it.
    assert call(client, bobs_appointment, "signal", bob.session, to=patient).status_code == 409
    state = call(client, bobs_appointment, "poll", bob.session).json()
    assert state["me"]["status"] == "admitted"
    assert state["signals"] == [] and state["chat"] == []
    assert [peer["id"] for peer in state["peers"]] == [bobs_host.pk]
    # Through Alice's: no seat there, whatever he sends.
    for name in ENDPOINTS:
        assert_json_404(call(client, tw.appointment, name, bob.session, to=patient))
        assert_json_404(call(client, tw.appointment, name, patient.session, to=host))
    assert not Signal.objects.filter(sender=bob).exists()
    assert Signal.objects.filter(recipient=patient).count() == 1
    assert ChatLine.objects.count() == 1


def test_a_patient_with_no_seat_yet_gets_a_404(tw: TelehealthWorld) -> None:
    """Alice has not joined: the API is only for a page that has (the join is audited there)."""
    host = video.do_staff_join(Actor(user=tw.world.clinician), host_access(tw), tw.appointment)
    client = client_for(tw.world.alice_user)
    for name in ENDPOINTS:
        assert_json_404(call(client, tw.appointment, name, "never-joined", to=host))


def test_an_invitation_not_taken_up_gives_no_seat(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    video.do_invite(Actor(user=tw.world.clinician), host_access(tw), tw.appointment, tw.second_clinician)
    client = client_for(tw.second_clinician)
    for name in ENDPOINTS:
        assert_json_404(call(client, tw.appointment, name, host.session, to=patient))


# A right that ends ----------------------------------------------------------------------------


def _still_in(client: Client, tw: TelehealthWorld, me: Participant, peer: Participant) -> None:
    for name in ENDPOINTS:
        assert call(client, tw.appointment, name, me.session, to=peer).status_code == 200


def _shut_out(client: Client, tw: TelehealthWorld, me: Participant, peer: Participant) -> None:
    signals, lines = Signal.objects.count(), ChatLine.objects.count()
    for name in ENDPOINTS:
        assert_json_404(call(client, tw.appointment, name, me.session, to=peer))
    assert (Signal.objects.count(), ChatLine.objects.count()) == (signals, lines)


def test_a_withdrawn_invitation_ends_access_at_the_next_request(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    nora = joined_staff(tw, tw.second_clinician)
    client = client_for(tw.second_clinician)
    _still_in(client, tw, nora, patient)
    video.do_withdraw_invite(Actor(user=tw.world.clinician), host_access(tw), nora)
    _shut_out(client, tw, nora, patient)


def test_a_revoked_proxy_grant_ends_access_at_the_next_request(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    proxy = admitted_proxy(tw)
    client = client_for(tw.world.proxy_user)
    _still_in(client, tw, proxy, host)
    ProxyGrant.objects.filter(pk=tw.world.proxy_grant.pk).update(revoked_at=timezone.now())
    _shut_out(client, tw, proxy, host)


def test_a_proxy_grant_without_the_view_scope_gives_no_access(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    proxy = admitted_proxy(tw)
    ProxyGrant.objects.filter(pk=tw.world.proxy_grant.pk).update(scopes=[Scope.MESSAGE])
    _shut_out(client_for(tw.world.proxy_user), tw, proxy, host)


def test_a_host_whose_practitioner_record_is_retired_is_shut_out(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    client = client_for(tw.world.clinician)
    _still_in(client, tw, host, patient)
    Practitioner.objects.filter(user=tw.world.clinician).update(active=False)
    _shut_out(client, tw, host, patient)


def test_someone_who_left_keeps_the_status_but_gets_nothing_of_the_call(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    carol, alice = client_for(tw.world.clinician), client_for(tw.world.alice_user)
    call(carol, tw.appointment, "chat", host.session)
    video.do_leave(
        Actor(user=tw.world.alice_user), patient_access(tw.world.alice_user, tw.world.alice), patient
    )
    state = call(alice, tw.appointment, "poll", patient.session).json()
    assert state["me"]["status"] == "left"
    assert state["peers"] == [] and state["signals"] == [] and state["chat"] == []
    assert call(alice, tw.appointment, "chat", patient.session).status_code == 409
    assert call(alice, tw.appointment, "signal", patient.session, to=host).status_code == 409
    assert call(carol, tw.appointment, "signal", host.session, to=patient).status_code == 409
