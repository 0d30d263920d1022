"""The video visit's polling, signaling and chat: what each page gets, sends, and is refused."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.telehealth import signaling, video
from portal.telehealth.models import ChatLine, Participant, Signal, VideoVisit
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
from portal.test import World, captured_queries

pytestmark = pytest.mark.django_db

OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"


@pytest.fixture
def tw(world: World) -> TelehealthWorld:
    return telehealth_world(world)


def url(tw: TelehealthWorld, name: str) -> str:
    return reverse(f"video_api:{name}", args=[tw.appointment.pk])


def poll(client: Client, tw: TelehealthWorld, session: str, **params: Any) -> Any:
    response = client.get(url(tw, "poll"), {"session": session, **params}, headers=FROM_THE_PAGE)
    assert response.status_code == 200, response.content
    return response.json()


def post(client: Client, tw: TelehealthWorld, name: str, body: Any) -> Any:
    return client.post(url(tw, name), json.dumps(body), content_type="application/json")


def offer(sender: Participant, recipient: Participant, sdp: str = OFFER_SDP) -> dict[str, Any]:
    return {
        "session": sender.session,
        "to": recipient.pk,
        "to_session": recipient.session,
        "kind": "description",
        "payload": {"type": "offer", "sdp": sdp},
    }


def candidate(sender: Participant, recipient: Participant, text: str) -> dict[str, Any]:
    return {
        "session": sender.session,
        "to": recipient.pk,
        "to_session": recipient.session,
        "kind": "candidate",
        "payload": {"candidate": text, "sdpMid": "0", "sdpMLineIndex": 0},
    }


# What the page's fetch sends with every poll (a link or a form on another site cannot).
FROM_THE_PAGE = {"X-Video-Poll": "1", "Sec-Fetch-Site": "same-origin"}
LOOPBACK_CANDIDATE = "candidate:842163049 1 udp 1677729535 127.0.0.1 49203 typ host generation 0"


# Polling --------------------------------------------------------------------------------------


def test_a_first_poll_claims_the_page_and_shows_the_call(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    state = poll(client_for(tw.world.alice_user), tw, "page-one-0001", claim="1")
    assert state["visit"] == {"status": "in_progress"}
    assert state["me"] == {
        "id": patient.pk,
        "status": "admitted",
        "current": True,
        "place": None,
        "host_seen": False,
    }
    assert state["peers"] == [
        {"id": host.pk, "name": host.display_name, "role": "host", "side": "staff", "session": host.session}
    ]
    assert state["signals"] == [] and state["chat"] == [] and state["waiting"] == []
    patient.refresh_from_db()
    assert patient.session == "page-one-0001"


def test_a_second_window_takes_over_and_the_first_stops(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    alice = client_for(tw.world.alice_user)
    poll(alice, tw, "first-window", claim="1")
    poll(alice, tw, "second-window", claim="1")
    post(client_for(tw.world.clinician), tw, "chat", {"session": host.session, "text": "Hello"})

    stale = poll(alice, tw, "first-window")
    assert stale["me"]["current"] is False
    assert stale["peers"] == [] and stale["signals"] == [] and stale["chat"] == []
    assert post(alice, tw, "chat", {"session": "first-window", "text": "Hi"}).status_code == 409
    patient.session = "first-window"
    assert post(alice, tw, "signal", offer(patient, host)).status_code == 409
    patient.session = "second-window"
    assert post(alice, tw, "signal", offer(patient, host)).status_code == 200
    assert ChatLine.objects.filter(sender=patient).count() == 0


def test_a_claim_drops_signals_for_the_earlier_page(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    assert post(client_for(tw.world.clinician), tw, "signal", offer(host, patient)).status_code == 200
    poll(client_for(tw.world.alice_user), tw, "reloaded-page", claim="1")
    assert not Signal.objects.filter(recipient=patient).exists()


def test_last_seen_is_written_at_most_every_few_seconds(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    alice = client_for(tw.world.alice_user)
    long_ago = timezone.now() - dt.timedelta(minutes=1)
    Participant.objects.filter(pk=patient.pk).update(last_seen_at=long_ago)
    poll(alice, tw, patient.session)
    patient.refresh_from_db()
    assert patient.last_seen_at is not None and patient.last_seen_at > long_ago
    seen = patient.last_seen_at
    poll(alice, tw, patient.session)
    patient.refresh_from_db()
    assert patient.last_seen_at == seen


def test_peers_are_only_those_seen_lately(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    Participant.objects.filter(pk=host.pk).update(last_seen_at=timezone.now() - dt.timedelta(seconds=30))
    assert poll(client_for(tw.world.alice_user), tw, patient.session)["peers"] == []


def test_a_waiting_patient_sees_their_place_and_nothing_of_the_call(tw: TelehealthWorld) -> None:
    patient = waiting_patient(tw)
    host = video.do_staff_join(Actor(user=tw.world.clinician), host_access(tw), tw.appointment)
    carol, alice = client_for(tw.world.clinician), client_for(tw.world.alice_user)
    post(carol, tw, "chat", {"session": host.session, "text": "Notes before the visit"})

    state = poll(alice, tw, patient.session)
    assert state["me"]["status"] == "waiting"
    assert state["me"]["place"] == 1 and state["me"]["host_seen"] is False
    assert state["peers"] == [] and state["signals"] == [] and state["chat"] == []

    assert post(carol, tw, "signal", offer(host, patient)).status_code == 409
    assert post(alice, tw, "signal", offer(patient, host)).status_code == 409
    assert post(alice, tw, "chat", {"session": patient.session, "text": "Hello?"}).status_code == 409
    assert not Signal.objects.exists()
    assert ChatLine.objects.filter(sender=patient).count() == 0

    waiting = poll(carol, tw, host.session)["waiting"]
    assert [(w["id"], w["name"], w["role"]) for w in waiting] == [(patient.pk, "Alice Able", "patient")]
    assert poll(alice, tw, patient.session)["me"]["host_seen"] is True


def test_place_counts_patients_waiting_earlier_for_the_same_clinician(tw: TelehealthWorld) -> None:
    bobs = video_appointment(tw.sw, tw.world.bob, starts_in=dt.timedelta(minutes=1))
    bob = tw.world.bob_user
    video.do_enter_waiting_room(Actor(user=bob), patient_access(bob, tw.world.bob), bobs)
    patient = waiting_patient(tw)
    assert poll(client_for(tw.world.alice_user), tw, patient.session)["me"]["place"] == 2


def test_the_patient_side_gets_no_waiting_list(tw: TelehealthWorld) -> None:
    _host, patient = in_call(tw)
    waiting_patient(tw, tw.world.proxy_user)
    assert poll(client_for(tw.world.alice_user), tw, patient.session)["waiting"] == []


# Signals --------------------------------------------------------------------------------------


def test_a_description_reaches_the_other_page_once(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    answer = post(client_for(tw.world.clinician), tw, "signal", offer(host, patient))
    assert answer.status_code == 200
    signal_id = answer.json()["id"]
    alice = client_for(tw.world.alice_user)

    signals = poll(alice, tw, patient.session)["signals"]
    assert signals == [
        {
            "id": signal_id,
            "from": host.pk,
            "from_session": host.session,
            "kind": "description",
            "payload": {"type": "offer", "sdp": OFFER_SDP},
        }
    ]
    assert poll(alice, tw, patient.session, after=str(signal_id))["signals"] == []
    assert not Signal.objects.filter(pk=signal_id).exists()  # acknowledged


def test_unknown_keys_are_dropped(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    body = candidate(host, patient, LOOPBACK_CANDIDATE)
    body["payload"] |= {"usernameFragment": "abcd", "evil": "x" * 100}
    body["extra"] = True
    assert post(client_for(tw.world.clinician), tw, "signal", body).status_code == 200
    assert Signal.objects.get().payload == {
        "candidate": LOOPBACK_CANDIDATE,
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd",
    }


def test_signals_from_a_reloaded_page_are_not_delivered(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    post(client_for(tw.world.clinician), tw, "signal", offer(host, patient))
    poll(client_for(tw.world.clinician), tw, "carol-reloaded", claim="1")
    assert poll(client_for(tw.world.alice_user), tw, patient.session)["signals"] == []


def test_a_signal_to_oneself_or_outside_the_visit_is_refused(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    carol = client_for(tw.world.clinician)
    assert post(carol, tw, "signal", offer(host, host)).status_code == 409
    body = offer(host, patient) | {"to": patient.pk + 1000}
    assert post(carol, tw, "signal", body).status_code == 409
    assert not Signal.objects.exists()


def test_nothing_is_sent_once_the_visit_ended(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    video.do_end_visit(Actor(user=tw.world.clinician), host_access(tw), host.visit)
    carol = client_for(tw.world.clinician)
    assert post(carol, tw, "signal", offer(host, patient)).status_code == 409
    assert post(carol, tw, "chat", {"session": host.session, "text": "Bye"}).status_code == 409
    state = poll(carol, tw, host.session)
    assert state["visit"]["status"] == "ended" and state["me"]["status"] == "left"


def test_a_full_inbox_answers_429(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    Signal.objects.bulk_create(
        Signal(
            visit=host.visit,
            sender=host,
            sender_session=host.session,
            recipient=patient,
            recipient_session=patient.session,
            kind="candidate",
            payload={},
        )
        for _ in range(signaling.MOST_UNDELIVERED)
    )
    answer = post(client_for(tw.world.clinician), tw, "signal", offer(host, patient))
    assert answer.status_code == 429 and "error" in answer.json()
    assert Signal.objects.count() == signaling.MOST_UNDELIVERED


# Loopback only --------------------------------------------------------------------------------


FOREIGN_CANDIDATES = [
    "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0",
    "candidate:2 1 udp 2122260223 3f6a1d2e-8c7b-4b1a-9c1e-0e7f6d5c4b3a.local 54321 typ host",
    "candidate:3 1 udp 2122262783 ::1 54321 typ host",
    "candidate:4 1 udp 2122262783 2001:db8::1 54321 typ host",
    "candidate:5 1 udp 1686052607 203.0.113.9 54321 typ srflx raddr 127.0.0.1 rport 54321",
    "candidate:6 1 udp 2122260223 127.0.0.2 54321 typ host",
    "candidate:7 1 udp 2122260223 127.0.0.1.example.org 54321 typ host",
    "candidate:8 1 udp 2122260223  127.0.0.1 54321 typ host",
    "candidate:9 1 udp 2122260223 127.0.0.1 54321",
    "candidate:10 1 udp 2122260223 127.0.0.1 99999 typ host",
    "candidate:11 1 sctp 2122260223 127.0.0.1 54321 typ host",
    "candidate:12 1 udp 2122260223 127.0.0.1 54321 typ host generation",
    "candidate:13 1 udp 2122260223 0x7f000001 54321 typ host",
]


@pytest.mark.parametrize("text", FOREIGN_CANDIDATES)
def test_a_candidate_not_on_loopback_is_dropped(tw: TelehealthWorld, text: str) -> None:
    host, patient = in_call(tw)
    answer = post(client_for(tw.world.clinician), tw, "signal", candidate(host, patient, text))
    assert answer.status_code == 200 and answer.json() == {"dropped": True}
    assert not Signal.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        LOOPBACK_CANDIDATE,
        "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag abcd",
        "",  # the end of candidates names no address
    ],
)
def test_a_loopback_candidate_passes(tw: TelehealthWorld, text: str) -> None:
    host, patient = in_call(tw)
    answer = post(client_for(tw.world.clinician), tw, "signal", candidate(host, patient, text))
    assert answer.status_code == 200 and "id" in answer.json()
    assert Signal.objects.get().payload["candidate"] == text


def test_without_the_loopback_setting_every_candidate_passes(tw: TelehealthWorld, settings: Any) -> None:
    settings.PORTAL_VIDEO_LOOPBACK_ONLY = False
    host, patient = in_call(tw)
    answer = post(
        client_for(tw.world.clinician), tw, "signal", candidate(host, patient, FOREIGN_CANDIDATES[0])
    )
    assert answer.status_code == 200 and "id" in answer.json()


def test_sdp_keeps_only_loopback_candidate_lines_and_every_other_byte(tw: TelehealthWorld) -> None:
    head = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    kept = "a=candidate:842163049 1 udp 1677729535 127.0.0.1 49203 typ host generation 0\r\n"
    tail = "a=end-of-candidates\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
    sdp = (
        head
        + "a=candidate:1 1 udp 2122260223 10.0.0.5 54321 typ host\r\n"
        + kept
        + "a=candidate:2 1 udp 2122260223 abc.local 54321 typ host\r\n"
        + "a=candidate:3 1 udp 2122262783 ::1 54321 typ host\r\n"
        + "a=candidate:garbage\r\n"
        + tail
    )
    host, patient = in_call(tw)
    assert post(client_for(tw.world.clinician), tw, "signal", offer(host, patient, sdp)).status_code == 200
    assert Signal.objects.get().payload == {"type": "offer", "sdp": head + kept + tail}


def test_strip_candidates_changes_nothing_without_foreign_lines() -> None:
    for sdp in (OFFER_SDP, "v=0\nm=audio 9 RTP/AVP 0\n", "v=0\r\nlast line without end", "", "\r\n\r\n"):
        assert signaling.strip_candidates(sdp) == sdp
    assert signaling.strip_candidates("v=0\r\na=candidate:1 1 udp 1 10.0.0.1 9 typ host") == "v=0\r\n"


def test_parse_candidate_reads_each_field() -> None:
    parsed = signaling.parse_candidate("candidate:842163049 1 UDP 1677729535 127.0.0.1 49203 typ srflx")
    assert parsed == signaling.Candidate("842163049", 1, "udp", 1677729535, "127.0.0.1", 49203, "srflx")
    assert signaling.parse_candidate("a=candidate:1 1 udp 1 127.0.0.1 9 typ host") is None


# Chat -----------------------------------------------------------------------------------------


def test_chat_reaches_everyone_in_the_call_and_is_audited(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    alice, carol = client_for(tw.world.alice_user), client_for(tw.world.clinician)
    answer = post(alice, tw, "chat", {"session": patient.session, "text": "  Can you hear me?  "})
    assert answer.status_code == 200
    line_id = answer.json()["id"]

    [seen_by_carol] = poll(carol, tw, host.session)["chat"]
    assert seen_by_carol["id"] == line_id
    assert (seen_by_carol["name"], seen_by_carol["mine"], seen_by_carol["text"]) == (
        "Alice Able",
        False,
        "Can you hear me?",
    )
    assert dt.datetime.fromisoformat(seen_by_carol["at"]).tzinfo is not None
    assert poll(alice, tw, patient.session)["chat"][0]["mine"] is True
    assert poll(alice, tw, patient.session, chat_after=str(line_id))["chat"] == []

    event = AuditEvent.objects.get(action="telehealth.chat")
    assert event.patient_id == tw.world.alice.pk and event.actor_id == tw.world.alice_user.pk
    assert event.object_id == str(host.visit_id) and "Can you hear" not in json.dumps(event.detail)


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"session": "short"},
        {"session": "x" * 41},
        {"session": "has spaces in it"},
        {"session": "good-session", "after": "-1"},
        {"session": "good-session", "after": "abc"},
        {"session": "good-session", "after": "9" * 40},
        {"session": "good-session", "chat_after": "1.5"},
        {"session": "good-session", "claim": "yes"},
    ],
)
def test_bad_poll_parameters_are_a_400(tw: TelehealthWorld, params: dict[str, str]) -> None:
    in_call(tw)
    answer = client_for(tw.world.alice_user).get(url(tw, "poll"), params, headers=FROM_THE_PAGE)
    assert answer.status_code == 400 and "error" in answer.json()


def _bad_signals(host: Participant, patient: Participant) -> list[Any]:
    good = offer(host, patient)
    return [
        [good],
        "just text",
        good | {"kind": "bye"},
        good | {"kind": None},
        good | {"to": str(patient.pk)},
        good | {"to": True},
        good | {"to": 2**63},
        good | {"to": -1},
        good | {"session": None},
        good | {"to_session": 12345678},
        good | {"payload": "v=0"},
        good | {"payload": {"type": "rollback", "sdp": OFFER_SDP}},
        good | {"payload": {"type": "offer", "sdp": "  "}},
        good | {"payload": {"type": "offer", "sdp": 5}},
        good | {"payload": {"type": "offer", "sdp": "v=0\r\n" + "a" * 20_000}},
        good | {"payload": {"type": "offer", "sdp": "v=0\x00"}},
        good | {"payload": {"type": "offer", "sdp": "v=0\ud800"}},
        candidate(host, patient, "candidate:" + "1" * 1000),
        candidate(host, patient, "not a candidate"),
        candidate(host, patient, LOOPBACK_CANDIDATE) | {"payload": {"candidate": LOOPBACK_CANDIDATE}},
        candidate(host, patient, LOOPBACK_CANDIDATE)
        | {"payload": {"candidate": LOOPBACK_CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 1.0}},
        candidate(host, patient, LOOPBACK_CANDIDATE)
        | {"payload": {"candidate": LOOPBACK_CANDIDATE, "sdpMid": "0", "sdpMLineIndex": False}},
        candidate(host, patient, LOOPBACK_CANDIDATE)
        | {"payload": {"candidate": LOOPBACK_CANDIDATE, "sdpMid": ["0"], "sdpMLineIndex": 0}},
    ]


def test_bad_signals_are_a_400_and_store_nothing(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    carol = client_for(tw.world.clinician)
    for body in _bad_signals(host, patient):
        answer = post(carol, tw, "signal", body)
        assert answer.status_code == 400, body
        assert "error" in answer.json()
    assert not Signal.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"session": "' + b"x" * 70_000 + b'"}',
        b"NaN",
    ],
)
def test_bodies_that_are_not_a_small_json_object_are_a_400(tw: TelehealthWorld, raw: bytes) -> None:
    in_call(tw)
    carol = client_for(tw.world.clinician)
    for name in ("signal", "chat"):
        answer = carol.post(url(tw, name), raw, content_type="application/json")
        assert answer.status_code == 400 and "error" in answer.json()
    assert not Signal.objects.exists() and not ChatLine.objects.exists()


def test_a_body_beyond_django_s_own_limit_is_a_400(tw: TelehealthWorld, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    host, patient = in_call(tw)
    answer = post(client_for(tw.world.clinician), tw, "signal", offer(host, patient, "v=0\r\n" + "a" * 2000))
    assert answer.status_code == 400
    assert not Signal.objects.exists()


@pytest.mark.parametrize("text", [None, 12, "", "   \n ", "x" * 1001, "a\x00b", ["hi"]])
def test_bad_chat_is_a_400_and_stores_nothing(tw: TelehealthWorld, text: Any) -> None:
    _host, patient = in_call(tw)
    answer = post(client_for(tw.world.alice_user), tw, "chat", {"session": patient.session, "text": text})
    assert answer.status_code == 400 and "error" in answer.json()
    assert not ChatLine.objects.exists()
    assert not AuditEvent.objects.filter(action="telehealth.chat").exists()


def test_wrong_methods_are_a_405_in_json(tw: TelehealthWorld) -> None:
    in_call(tw)
    alice = client_for(tw.world.alice_user)
    assert alice.post(url(tw, "poll")).status_code == 405
    for name in ("signal", "chat"):
        answer = alice.get(url(tw, name))
        assert answer.status_code == 405 and answer["Allow"] == "POST" and "error" in answer.json()


def test_posts_need_the_csrf_header(tw: TelehealthWorld, settings: Any) -> None:
    _host, patient = in_call(tw)
    alice = Client(enforce_csrf_checks=True)
    alice.force_login(tw.world.alice_user)
    body = json.dumps({"session": patient.session, "text": "Hello"})
    assert alice.post(url(tw, "chat"), body, content_type="application/json").status_code == 403
    assert not ChatLine.objects.exists()
    secret = "k" * 32  # what the page's {% csrf_token %} pairs with its cookie
    alice.cookies[settings.CSRF_COOKIE_NAME] = secret
    answer = alice.post(url(tw, "chat"), body, content_type="application/json", HTTP_X_CSRFTOKEN=secret)
    assert answer.status_code == 200
    assert ChatLine.objects.count() == 1


# Bounded work ---------------------------------------------------------------------------------


def _fill(host: Participant, patient: Participant, lines: int) -> None:
    Signal.objects.bulk_create(
        Signal(
            visit=host.visit,
            sender=host,
            sender_session=host.session,
            recipient=patient,
            recipient_session=patient.session,
            kind="candidate",
            payload={"candidate": LOOPBACK_CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0},
        )
        for _ in range(lines)
    )
    ChatLine.objects.bulk_create(ChatLine(visit=host.visit, sender=host, body="Hello") for _ in range(lines))


@pytest.mark.parametrize("side", ["patient", "host"])
def test_a_poll_runs_a_bounded_number_of_queries(
    tw: TelehealthWorld, side: str, django_assert_max_num_queries: Any
) -> None:
    host, patient = in_call(tw)
    waiting_patient(tw, tw.world.proxy_user)
    me, user = (patient, tw.world.alice_user) if side == "patient" else (host, tw.world.clinician)
    client = client_for(user)
    poll(client, tw, me.session)  # the session's first request records it (allauth usersessions)

    def measured() -> tuple[int, Any]:
        Participant.objects.filter(pk=me.pk).update(last_seen_at=timezone.now() - dt.timedelta(minutes=1))
        first = Signal.objects.filter(recipient=me).order_by("id").values_list("id", flat=True).first()
        with captured_queries() as queries:
            state = poll(client, tw, me.session, after=str(first))
        return len(queries.captured_queries), state

    _fill(host, patient, 2)
    _fill(patient, host, 2)
    few, _state = measured()
    _fill(host, patient, 250)
    _fill(patient, host, 250)
    # About 7 are the session middleware's (allauth records each request's activity).
    with django_assert_max_num_queries(22):
        many, state = measured()
    assert many == few
    assert len(state["signals"]) == signaling.SIGNALS_PER_POLL
    assert len(state["chat"]) == signaling.CHAT_PER_POLL
    assert len(state["waiting"]) == (1 if side == "host" else 0)


def test_sending_runs_a_bounded_number_of_queries(
    tw: TelehealthWorld, django_assert_max_num_queries: Any
) -> None:
    host, patient = in_call(tw)
    _fill(host, patient, 300)
    # Written a while ago: the chat's rate limit (10 lines in 10 s) does not come into it.
    ChatLine.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    carol = client_for(tw.world.clinician)
    poll(carol, tw, host.session)  # the session's first request records it (allauth usersessions)
    with django_assert_max_num_queries(20):
        assert post(carol, tw, "signal", offer(host, patient)).status_code == 200
    with django_assert_max_num_queries(24):
        assert post(carol, tw, "chat", {"session": host.session, "text": "Hi"}).status_code == 200


# Keeping the table small ----------------------------------------------------------------------


def test_purge_deletes_old_signals_and_those_of_ended_visits(tw: TelehealthWorld) -> None:
    host, patient = in_call(tw)
    _fill(host, patient, 3)
    old = Signal.objects.order_by("id").first()
    assert old is not None
    Signal.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    assert signaling.purge_stale_signals() == 1
    assert Signal.objects.count() == 2
    VideoVisit.objects.filter(pk=host.visit_id).update(status=VideoVisit.Status.ENDED)
    assert signaling.purge_stale_signals() == 2
    assert not Signal.objects.exists()
