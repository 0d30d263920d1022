"""What the video visit's endpoints guard against: polls another site makes the browser send,
chat from before someone was admitted, the host's "seen you" said by someone else, chat floods."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.patients.models import ProxyGrant, Scope
from portal.telehealth import signaling, video
from portal.telehealth.models import ChatLine, Participant, Signal
from portal.telehealth.tests.support import (
    TelehealthWorld,
    client_for,
    host_access,
    in_call,
    telehealth_world,
    waiting_patient,
)
from portal.test import World

pytestmark = pytest.mark.django_db

FROM_THE_PAGE = {"X-Video-Poll": "1", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def url(tw: TelehealthWorld, name: str) -> str:
    return reverse(f"video_api:{name}", args=[tw.appointment.pk])


def poll(client: Client, tw: TelehealthWorld, session: str, headers: dict[str, str] | None = None) -> Any:
    return client.get(
        url(tw, "poll"), {"session": session}, headers=FROM_THE_PAGE if headers is None else headers
    )


def chat(client: Client, tw: TelehealthWorld, session: str, text: str) -> Any:
    body = json.dumps({"session": session, "text": text})
    return client.post(url(tw, "chat"), body, content_type="application/json")


def joined_staff(tw: TelehealthWorld, user: User) -> Participant:
    video.do_invite(Actor(user=tw.world.clinician), host_access(tw), tw.appointment, user)
    return video.do_staff_join(Actor(user=user), host_access(tw, user), tw.appointment)


# A poll only from the page's own script -------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a link, an <img>, a form, a top-level navigation from another site
        {"X-Video-Poll": "0"},
        {"X-Video-Poll": "1", "Sec-Fetch-Site": "cross-site"},
        {"X-Video-Poll": "1", "Sec-Fetch-Site": "same-site"},
        {"X-Video-Poll": "1", "Sec-Fetch-Site": "none"},
    ],
)
def test_a_poll_not_made_by_the_page_is_refused_and_changes_nothing(
    tw: TelehealthWorld, headers: dict[str, str]
) -> None:
    host, patient = in_call(tw)
    sent = Signal.objects.create(
        visit=host.visit,
        sender=host,
        sender_session=host.session,
        recipient=patient,
        recipient_session=patient.session,
        kind="candidate",
        payload={},
    )
    alice = client_for(tw.world.alice_user)
    query = {"session": "attacker-page", "claim": "1", "after": str(sent.pk)}
    answer = alice.get(url(tw, "poll"), query, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"error": "The poll must come from the video visit page."}
    patient.refresh_from_db()
    assert patient.session != "attacker-page"
    assert Signal.objects.filter(pk=sent.pk).exists()
    # The real page carries on.
    assert poll(alice, tw, patient.session).json()["me"]["current"] is True


def test_a_stranger_without_the_header_still_gets_the_404(tw: TelehealthWorld) -> None:
    in_call(tw)
    answer = client_for(tw.world.bob_user).get(url(tw, "poll"), {"session": "guessing-x"})
    assert answer.status_code == 404 and answer.json() == {"error": "Not found."}
    assert AuditEvent.objects.filter(action="access.refused", actor_id=tw.world.bob_user.pk).count() == 1


def test_the_page_sends_the_poll_header_and_shows_why_a_line_was_refused() -> None:
    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "video-visit.js").read_text()
    assert '"X-Video-Poll": "1"' in script
    assert "response.status === 429" in script and "answer.error" in script


# Peers say which side they are on -------------------------------------------------------------


def test_peers_say_which_side_they_are_on(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    ivy = joined_staff(tw, tw.interpreter)
    peers = poll(client_for(tw.world.clinician), tw, host.session).json()["peers"]
    assert [(p["id"], p["role"], p["side"]) for p in peers] == [
        (patient.pk, "patient", "patient"),
        (ivy.pk, "interpreter", "staff"),
    ]


# Only the host has "seen" the waiting patient -------------------------------------------------


def test_only_the_hosts_poll_tells_the_patient_they_were_seen(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    ivy = joined_staff(tw, tw.interpreter)
    proxy = waiting_patient(tw, tw.world.proxy_user)
    waiting = poll(client_for(tw.interpreter), tw, ivy.session).json()["waiting"]
    assert [w["id"] for w in waiting] == [proxy.pk]
    proxy.refresh_from_db()
    assert proxy.seen_by_host_at is None
    poll(client_for(tw.world.clinician), tw, host.session)
    proxy.refresh_from_db()
    assert proxy.seen_by_host_at is not None


# Chat from one's admission on -----------------------------------------------------------------


def test_someone_admitted_later_does_not_read_what_was_said_before(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    a_minute_ago = timezone.now() - dt.timedelta(minutes=1)
    Participant.objects.filter(pk__in=(host.pk, patient.pk)).update(admitted_at=a_minute_ago)
    carol, alice = client_for(tw.world.clinician), client_for(tw.world.alice_user)
    before = chat(alice, tw, patient.session, "Something private about my results").json()["id"]
    ChatLine.objects.filter(pk=before).update(created_at=timezone.now() - dt.timedelta(seconds=1))
    proxy = waiting_patient(tw, tw.world.proxy_user)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit, proxy.pk)
    proxy.refresh_from_db()
    after = chat(carol, tw, host.session, "Welcome, Pat").json()["id"]

    seen = poll(client_for(tw.world.proxy_user), tw, proxy.session).json()["chat"]
    assert [line["id"] for line in seen] == [after]
    # Everyone admitted earlier still reads both.
    assert [line["id"] for line in poll(carol, tw, host.session).json()["chat"]] == [before, after]
    # Sent back and admitted again, the proxy keeps their first admission's view.
    video.do_remove_participant(Actor(user=tw.world.clinician), host_access(tw), proxy)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit, proxy.pk)
    seen = poll(client_for(tw.world.proxy_user), tw, proxy.session).json()["chat"]
    assert [line["id"] for line in seen] == [after]


def test_a_proxy_who_may_only_manage_appointments_is_shut_out_of_the_call(tw: TelehealthWorld) -> None:
    host, _patient = in_call(tw)
    proxy = waiting_patient(tw, tw.world.proxy_user)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit, proxy.pk)
    proxy.refresh_from_db()
    client = client_for(tw.world.proxy_user)
    assert poll(client, tw, proxy.session).status_code == 200
    ProxyGrant.objects.filter(pk=tw.world.proxy_grant.pk).update(scopes=[Scope.SCHEDULE, Scope.MESSAGE])
    assert poll(client, tw, proxy.session).status_code == 404
    assert chat(client, tw, proxy.session, "Hello").status_code == 404
    assert not ChatLine.objects.exists()


# A chat flood ---------------------------------------------------------------------------------


def test_a_seat_may_write_ten_lines_in_ten_seconds(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    alice, carol = client_for(tw.world.alice_user), client_for(tw.world.clinician)
    for number in range(signaling.CHAT_BURST):
        assert chat(alice, tw, patient.session, f"line {number}").status_code == 200
    answer = chat(alice, tw, patient.session, "one too many")
    assert answer.status_code == 429
    assert "too quickly" in answer.json()["error"]
    assert ChatLine.objects.filter(sender=patient).count() == signaling.CHAT_BURST
    assert AuditEvent.objects.filter(action="telehealth.chat").count() == signaling.CHAT_BURST
    # Another seat is not held back by Alice's lines.
    assert chat(carol, tw, host.session, "Slow down, please").status_code == 200
    # Once the window has passed, Alice may write again.
    ChatLine.objects.filter(sender=patient).update(created_at=timezone.now() - signaling.CHAT_WINDOW)
    assert chat(alice, tw, patient.session, "Sorry").status_code == 200
