"""The state behind a video visit page's polling: who is in the call, signaling, and chat.

Every participant's page polls `poll_state` about once a second and posts session
descriptions and ICE candidates (`do_send_signal`) and chat lines (`do_send_chat`).
Nothing here is kept in memory between requests, so any number of app servers can
answer the same call: what two of them could race on (the session a page claims, the
last time someone was seen, whether two participants are both still in the call) is
settled by conditional UPDATEs or by locking the visit row, as in `video.py`.

With `PORTAL_VIDEO_LOOPBACK_ONLY` (tests only) every ICE candidate that does not name
127.0.0.1 is dropped, in candidate messages and in SDP alike, so no packet of a test
call can leave the machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_write
from portal.telehealth.access import Seat
from portal.telehealth.models import ChatLine, Participant, Signal, VideoVisit

SIGNALS_PER_POLL = 100
CHAT_PER_POLL = 100
PEERS_PER_POLL = 20
WAITING_PER_POLL = 20
# A recipient's page that stopped fetching its signals stops receiving more.
MOST_UNDELIVERED = 500
# Someone is in the call (or in the waiting room) if their page polled this recently.
PRESENT_WITHIN = dt.timedelta(seconds=15)
# `last_seen_at` is written at most this often, not on every poll.
SEEN_EVERY = dt.timedelta(seconds=3)
SIGNALS_KEPT_FOR = dt.timedelta(hours=1)
# Each seat may write at most CHAT_BURST chat lines in any CHAT_WINDOW.
CHAT_BURST = 10
CHAT_WINDOW = dt.timedelta(seconds=10)
LOOPBACK = "127.0.0.1"


class SignalingError(Exception):
    """A request the state of the call refuses; `status` is the HTTP status to answer."""

    status = 409


class NotInCall(SignalingError):
    """The sender or the recipient is not admitted with that page (session) any more."""


class InboxFull(SignalingError):
    """The recipient's page has stopped fetching its signals."""

    status = 429


class ChatTooFast(SignalingError):
    """The seat has written CHAT_BURST lines within CHAT_WINDOW already."""

    status = 429


@dataclass(frozen=True)
class OutgoingSignal:
    """A validated signal to send: `payload` holds only the keys its kind allows."""

    to: int
    to_session: str
    kind: str
    payload: dict[str, Any]


# Polling --------------------------------------------------------------------------------------


def poll_state(seat: Seat, session: str, after: int, chat_after: int, claim: bool) -> dict[str, Any]:
    """Everything a participant's page needs on one poll, in a bounded number of queries.

    `claim` (a page's first poll) makes `session` the participant's current page: an
    older window or tab then reads `current: false` and stops. Signals and chat go only
    to an admitted participant's current page; `after` also acknowledges (deletes) the
    signals that page has already taken. Chat starts at the participant's first
    admission: someone let in later does not read what was said before. Only the host's
    own poll tells the waiting patient "your clinician has seen that you are waiting".
    """
    me, now = seat.participant, timezone.now()
    if claim:
        _claim(me, session, now)
    current = me.session == session
    if current and not claim:
        _touch(me, now)
    in_call = current and me.status == Participant.Status.ADMITTED
    state: dict[str, Any] = {
        "visit": {"status": seat.visit.status},
        "me": {
            "id": me.pk,
            "status": me.status,
            "current": current,
            "place": _place(seat, now) if current else None,
            "host_seen": me.seen_by_host_at is not None,
        },
        "peers": [],
        "signals": [],
        "chat": [],
        "waiting": [],
    }
    if in_call:
        if after:
            Signal.objects.filter(recipient=me, id__lte=after).delete()
        state["peers"] = _peers(me, now)
        state["signals"] = _signals(me, after)
        state["chat"] = _chat(me, chat_after)
        if not me.on_patient_side:
            is_host = me.role == Participant.Role.HOST and seat.appointment.practitioner.user_id == me.user_id
            state["waiting"] = _waiting(me, now, mark_seen=is_host)
    return state


def _claim(me: Participant, session: str, now: dt.datetime) -> None:
    """This page becomes the participant's current one (the last claim wins on a race)."""
    Participant.objects.filter(pk=me.pk).update(session=session, last_seen_at=now)
    # Signals for the participant's earlier pages will never be fetched.
    Signal.objects.filter(recipient=me).exclude(recipient_session=session).delete()
    me.session, me.last_seen_at = session, now


def _touch(me: Participant, now: dt.datetime) -> None:
    """Refresh `last_seen_at`, writing at most once every few seconds whatever the poll rate."""
    if me.last_seen_at is not None and me.last_seen_at > now - SEEN_EVERY:
        return
    Participant.objects.filter(pk=me.pk, session=me.session).filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lte=now - SEEN_EVERY)
    ).update(last_seen_at=now)


def _place(seat: Seat, now: dt.datetime) -> int | None:
    """A waiting patient's place among the host's waiting visits (1 = next), by arrival."""
    me = seat.participant
    if me.status != Participant.Status.WAITING or not me.on_patient_side or me.waiting_since is None:
        return None
    ahead = (
        Participant.objects.filter(
            visit__appointment__practitioner_id=seat.appointment.practitioner_id,
            visit__status=VideoVisit.Status.WAITING,
            role__in=Participant.PATIENT_SIDE,
            status=Participant.Status.WAITING,
            waiting_since__lt=me.waiting_since,
            last_seen_at__gte=now - PRESENT_WITHIN,
        )
        .exclude(visit_id=me.visit_id)
        .values("visit_id")
        .distinct()
        .count()
    )
    return ahead + 1


def _peers(me: Participant, now: dt.datetime) -> list[dict[str, Any]]:
    peers = (
        Participant.objects.filter(
            visit_id=me.visit_id, status=Participant.Status.ADMITTED, last_seen_at__gte=now - PRESENT_WITHIN
        )
        .exclude(pk=me.pk)
        .order_by("id")
        .values("id", "display_name", "role", "session")[:PEERS_PER_POLL]
    )
    return [
        {
            "id": p["id"],
            "name": p["display_name"],
            "role": p["role"],
            "side": "patient" if p["role"] in Participant.PATIENT_SIDE else "staff",
            "session": p["session"],
        }
        for p in peers
    ]


def _signals(me: Participant, after: int) -> list[dict[str, Any]]:
    # Only from a sender still in the call with the page that sent it: a reloaded
    # peer's old page can no longer be answered.
    signals = (
        Signal.objects.filter(
            recipient=me,
            recipient_session=me.session,
            id__gt=after,
            sender__status=Participant.Status.ADMITTED,
            sender_session=F("sender__session"),
        )
        .order_by("id")
        .values("id", "sender_id", "sender_session", "kind", "payload")[:SIGNALS_PER_POLL]
    )
    return [
        {
            "id": s["id"],
            "from": s["sender_id"],
            "from_session": s["sender_session"],
            "kind": s["kind"],
            "payload": s["payload"],
        }
        for s in signals
    ]


def _chat(me: Participant, chat_after: int) -> list[dict[str, Any]]:
    if me.admitted_at is None:
        return []
    lines = (
        ChatLine.objects.filter(visit_id=me.visit_id, id__gt=chat_after, created_at__gte=me.admitted_at)
        .order_by("id")
        .values("id", "sender_id", "sender__display_name", "body", "created_at")[:CHAT_PER_POLL]
    )
    return [
        {
            "id": line["id"],
            "name": line["sender__display_name"],
            "mine": line["sender_id"] == me.pk,
            "text": line["body"],
            "at": line["created_at"].isoformat(),
        }
        for line in lines
    ]


def _waiting(me: Participant, now: dt.datetime, *, mark_seen: bool) -> list[dict[str, Any]]:
    """The patient's side in the waiting room, for staff; the host reading it tells them the host knows."""
    waiting = list(
        Participant.objects.filter(
            visit_id=me.visit_id,
            role__in=Participant.PATIENT_SIDE,
            status=Participant.Status.WAITING,
            last_seen_at__gte=now - PRESENT_WITHIN,
        )
        .order_by("waiting_since", "id")
        .values("id", "display_name", "role", "waiting_since", "seen_by_host_at")[:WAITING_PER_POLL]
    )
    unseen = [w["id"] for w in waiting if w["seen_by_host_at"] is None] if mark_seen else []
    if unseen:
        Participant.objects.filter(pk__in=unseen, seen_by_host_at__isnull=True).update(seen_by_host_at=now)
    return [
        {
            "id": w["id"],
            "name": w["display_name"],
            "role": w["role"],
            "since": w["waiting_since"].isoformat() if w["waiting_since"] else None,
        }
        for w in waiting
    ]


# Sending --------------------------------------------------------------------------------------


def do_send_signal(sender: Participant, session: str, message: OutgoingSignal) -> int | None:
    """Queue a signal for another admitted participant's current page; its id, or None if dropped.

    Not audited: signals carry network addresses and session descriptions, never health
    data, and a call sends dozens; the visit's own events (joined, admitted, left, ended)
    are. The visit row is locked as `video.py`'s actions lock it, so a signal is never
    queued for someone a concurrent leave or end has just taken out of the call.
    """
    with transaction.atomic():
        visit = VideoVisit.objects.select_for_update().get(pk=sender.visit_id)
        seats = {p.pk: p for p in Participant.objects.filter(visit=visit, pk__in=(sender.pk, message.to))}
        me, them = seats.get(sender.pk), seats.get(message.to)
        if visit.is_ended or me is None or not _in_call(me, session):
            raise NotInCall(_("You are not in the call on this page."))
        if them is None or them.pk == me.pk or not _in_call(them, message.to_session):
            raise NotInCall(_("That person is not in the call."))
        payload = (
            loopback_only(message.kind, message.payload)
            if settings.PORTAL_VIDEO_LOOPBACK_ONLY
            else message.payload
        )
        if payload is None:
            return None
        queued = Signal.objects.filter(recipient=them, recipient_session=them.session)[:MOST_UNDELIVERED]
        if queued.count() >= MOST_UNDELIVERED:
            raise InboxFull(_("That person's page is not taking messages. Try again shortly."))
        return Signal.objects.create(
            visit=visit,
            sender=me,
            sender_session=session,
            recipient=them,
            recipient_session=them.session,
            kind=message.kind,
            payload=payload,
        ).pk


def do_send_chat(
    actor: Actor, access: PatientAccess, participant: Participant, text: str, *, session: str
) -> ChatLine:
    """Add a line to the visit's chat, from an admitted participant's current page (audited).

    At most CHAT_BURST lines in CHAT_WINDOW per seat: the visit row is locked, so two app
    servers cannot both let the eleventh line through.
    """
    with transaction.atomic():
        visit = VideoVisit.objects.select_for_update().get(pk=participant.visit_id)
        me = Participant.objects.filter(pk=participant.pk).first()
        if visit.is_ended or me is None or not _in_call(me, session):
            raise NotInCall(_("You are not in the call on this page."))
        recent = ChatLine.objects.filter(sender=me, created_at__gt=timezone.now() - CHAT_WINDOW)
        if recent[:CHAT_BURST].count() >= CHAT_BURST:
            raise ChatTooFast(
                _("You are sending messages too quickly. Wait a few seconds, then send it again.")
            )
        line = ChatLine.objects.create(visit=visit, sender=me, body=text)
        record_write(actor, access, "telehealth.chat", obj=visit, detail={"chat_line": line.pk})
    return line


def _in_call(participant: Participant, session: str) -> bool:
    return participant.status == Participant.Status.ADMITTED and participant.session == session


def purge_stale_signals(now: dt.datetime | None = None) -> int:
    """Delete signals over an hour old and those of ended visits; returns how many.

    Leaving and ending already delete theirs; this catches calls everyone just closed.
    Signals hold network addresses, which are kept no longer than a call needs them.
    """
    cutoff = (now or timezone.now()) - SIGNALS_KEPT_FOR
    deleted, _counts = Signal.objects.filter(
        Q(created_at__lt=cutoff) | Q(visit__status=VideoVisit.Status.ENDED)
    ).delete()
    return deleted


# Loopback only (tests) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """The parts of an ICE candidate attribute (RFC 8839, section 5.1) the filter needs."""

    foundation: str
    component: int
    protocol: str
    priority: int
    address: str
    port: int
    type: str


CANDIDATE_TYPES = frozenset({"host", "srflx", "prflx", "relay"})


def parse_candidate(text: str) -> Candidate | None:
    """`candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type> ...`.

    None for anything not shaped exactly so (fields are separated by one space), so the
    filter passes only what it fully understood.
    """
    if not text.startswith("candidate:"):
        return None
    fields = text.removeprefix("candidate:").split(" ")
    if len(fields) < 8 or len(fields) % 2 or "" in fields or fields[6] != "typ":
        return None
    foundation, component, protocol, priority, address, port, _typ, kind = fields[:8]
    if not (_digits(component, 3) and _digits(priority, 10) and _digits(port, 5) and int(port) <= 65535):
        return None
    if protocol.lower() not in ("udp", "tcp") or kind not in CANDIDATE_TYPES:
        return None
    return Candidate(foundation, int(component), protocol.lower(), int(priority), address, int(port), kind)


def _digits(value: str, longest: int) -> bool:
    return 0 < len(value) <= longest and value.isascii() and value.isdigit()


def is_loopback(text: str) -> bool:
    candidate = parse_candidate(text)
    return candidate is not None and candidate.address == LOOPBACK


def strip_candidates(sdp: str) -> str:
    """The SDP without `a=candidate:` lines for other addresses; every other byte unchanged."""
    parts = sdp.split("\n")
    lines = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    return "".join(line for line in lines if not _foreign_candidate(line))


def _foreign_candidate(line: str) -> bool:
    attribute = line.removesuffix("\n").removesuffix("\r")
    return attribute.startswith("a=candidate:") and not is_loopback(attribute.removeprefix("a="))


def loopback_only(kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The payload with every non-loopback candidate removed, or None when nothing is left to send.

    An empty candidate (the end of candidates) names no address and passes.
    """
    if kind == Signal.Kind.CANDIDATE:
        text = payload.get("candidate", "")
        return payload if text == "" or is_loopback(text) else None
    return {**payload, "sdp": strip_candidates(payload["sdp"])}
