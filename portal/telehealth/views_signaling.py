"""The JSON endpoints a video visit's page polls and posts to (static/js/video-visit.js).

Every participant uses the same three: `poll`, `signal` and `chat`. Each first finds
the user's seat with `require_seat`, which decides their right again on every request
(a revoked proxy grant or a withdrawn invitation ends their part at once), and answers
anyone without one the same JSON 404 as a missing visit. The seat comes before reading
the input so a stranger learns nothing, not even which of their parameters were wrong.
Bad input is a 400 with `{"error": ...}` and changes nothing; no input gives a 5xx.

The poll is a GET that changes state (a claim takes the seat over from another window,
`after` deletes signals), so it must come from the page's own script, not from a link or
a form on another site that a SameSite=Lax cookie would still accompany: it needs the
`X-Video-Poll: 1` header, which only a script can set and a cross-site script cannot
send without a CORS preflight the portal never answers, and a `Sec-Fetch-Site` header,
where the browser sends one, of `same-origin`. The POSTs have Django's CSRF check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.telehealth import signaling
from portal.telehealth.access import require_seat
from portal.telehealth.models import Signal

LONGEST_BODY = 64 * 1024
LONGEST_SDP = 20_000
LONGEST_CANDIDATE = 1_000
LONGEST_CHAT = 1_000
LONGEST_MID = 64
LONGEST_UFRAG = 256
LARGEST_ID = 2**31 - 1
POLL_HEADER = "X-Video-Poll"
# crypto.randomUUID() in the page, secrets.token_urlsafe() on the server: both fit.
SESSION = re.compile(r"[A-Za-z0-9_-]{8,40}", re.ASCII)
CURSOR = re.compile(r"[0-9]{1,18}", re.ASCII)

ApiView = Callable[[HttpRequest, int], JsonResponse]


class BadInput(Exception):
    """The request's parameters or body are not what the endpoint takes; the message says what."""


def json_api(method: str) -> Callable[[ApiView], Callable[[HttpRequest, int], HttpResponse]]:
    """One method, and every refusal as JSON: the page's script reads `error`, never an HTML page."""

    def decorate(view: ApiView) -> Callable[[HttpRequest, int], HttpResponse]:
        @wraps(view)
        def answer(request: HttpRequest, appointment_id: int) -> HttpResponse:
            if request.method != method:
                return _error(_("Method not allowed."), 405, headers={"Allow": method})
            try:
                return view(request, appointment_id)
            except Http404:
                # `require_seat` has already audited the refusal (for a signed-in user).
                return _error(_("Not found."), 404)
            except BadInput as error:
                return _error(str(error), 400)
            except signaling.SignalingError as error:
                return _error(str(error), error.status)

        return answer

    return decorate


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers)


# The endpoints --------------------------------------------------------------------------------


@json_api("GET")
def poll(request: HttpRequest, appointment_id: int) -> JsonResponse:
    """Visit and seat status, peers, signals and chat for the page; see `signaling.poll_state`."""
    seat = require_seat(request, appointment_id)
    _from_the_page(request)
    session, after, chat_after, claim = _poll_query(request.GET)
    # A poll is not audited: the page polls every second, and what it returns (who is in
    # the call, signaling, chat the participant is part of) is covered by the audited
    # events of the page load, the join and the chat lines themselves.
    return JsonResponse(signaling.poll_state(seat, session, after, chat_after, claim))


@json_api("POST")
def signal(request: HttpRequest, appointment_id: int) -> JsonResponse:
    """Pass a session description or an ICE candidate to another participant's page."""
    seat = require_seat(request, appointment_id)
    session, message = _signal_body(_json_body(request))
    signal_id = signaling.do_send_signal(seat.participant, session, message)
    if signal_id is None:
        return JsonResponse({"dropped": True})
    return JsonResponse({"id": signal_id})


@json_api("POST")
def chat(request: HttpRequest, appointment_id: int) -> JsonResponse:
    """Add a line to the visit's chat."""
    seat = require_seat(request, appointment_id)
    session, text = _chat_body(_json_body(request))
    line = signaling.do_send_chat(
        Actor.from_request(request), seat.access, seat.participant, text, session=session
    )
    return JsonResponse({"id": line.pk})


# Parsing --------------------------------------------------------------------------------------


def _from_the_page(request: HttpRequest) -> None:
    """Refuse a poll the call page's own script did not make (see the module's docstring)."""
    if request.headers.get(POLL_HEADER) != "1":
        raise BadInput(_("The poll must come from the video visit page."))
    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
        raise BadInput(_("The poll must come from the video visit page."))


def _poll_query(params: QueryDict) -> tuple[str, int, int, bool]:
    claim = params.get("claim", "")
    if claim not in ("", "0", "1"):
        raise BadInput(_("claim must be 0 or 1."))
    return (
        _session(params.get("session")),
        _cursor(params, "after"),
        _cursor(params, "chat_after"),
        claim == "1",
    )


def _cursor(params: QueryDict, name: str) -> int:
    value = params.get(name, "")
    if value == "":
        return 0
    if not CURSOR.fullmatch(value):
        raise BadInput(_("%(name)s must be a whole number.") % {"name": name})
    return int(value)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > LONGEST_BODY:
        raise BadInput(_("The request is too large."))
    try:
        raw = request.body
    except RequestDataTooBig as error:
        raise BadInput(_("The request is too large.")) from error
    if len(raw) > LONGEST_BODY:
        raise BadInput(_("The request is too large."))
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadInput(_("The request is not valid JSON.")) from error
    if not isinstance(body, dict):
        raise BadInput(_("The request must be a JSON object."))
    return body


def _signal_body(body: dict[str, Any]) -> tuple[str, signaling.OutgoingSignal]:
    kind = body.get("kind")
    if kind == Signal.Kind.DESCRIPTION:
        payload = _description(body.get("payload"))
    elif kind == Signal.Kind.CANDIDATE:
        payload = _candidate(body.get("payload"))
    else:
        raise BadInput(_("kind must be description or candidate."))
    message = signaling.OutgoingSignal(
        to=_row_id(body.get("to"), "to"),
        to_session=_session(body.get("to_session")),
        kind=str(kind),
        payload=payload,
    )
    return _session(body.get("session")), message


def _description(payload: Any) -> dict[str, Any]:
    """`{"type": "offer"|"answer", "sdp": "..."}`; any other key is dropped."""
    if not isinstance(payload, dict) or payload.get("type") not in ("offer", "answer"):
        raise BadInput(_("A description needs a type of offer or answer."))
    sdp = _text(payload.get("sdp"), LONGEST_SDP, "sdp")
    if not sdp.strip():
        raise BadInput(_("A description needs its SDP."))
    return {"type": payload["type"], "sdp": sdp}


def _candidate(payload: Any) -> dict[str, Any]:
    """`{"candidate": "candidate:..."|"", "sdpMid": ..., "sdpMLineIndex": ..., "usernameFragment": ...}`."""
    if not isinstance(payload, dict):
        raise BadInput(_("A candidate must be a JSON object."))
    candidate = _text(payload.get("candidate"), LONGEST_CANDIDATE, "candidate")
    if candidate and not candidate.startswith("candidate:"):
        raise BadInput(_("candidate must start with candidate:."))
    mid, index = payload.get("sdpMid"), payload.get("sdpMLineIndex")
    mid = None if mid is None else _text(mid, LONGEST_MID, "sdpMid")
    if index is not None and (not _is_int(index) or not 0 <= index <= 65535):
        raise BadInput(_("sdpMLineIndex must be a small whole number."))
    if mid is None and index is None:
        raise BadInput(_("A candidate needs sdpMid or sdpMLineIndex."))
    cleaned: dict[str, Any] = {"candidate": candidate, "sdpMid": mid, "sdpMLineIndex": index}
    if payload.get("usernameFragment") is not None:
        cleaned["usernameFragment"] = _text(payload["usernameFragment"], LONGEST_UFRAG, "usernameFragment")
    return cleaned


def _chat_body(body: dict[str, Any]) -> tuple[str, str]:
    text = _text(body.get("text"), LONGEST_CHAT, "text").strip()
    if not text:
        raise BadInput(_("Write a message first."))
    return _session(body.get("session")), text


def _session(value: Any) -> str:
    if not isinstance(value, str) or not SESSION.fullmatch(value):
        raise BadInput(_("session is missing or not valid."))
    return value


def _row_id(value: Any, name: str) -> int:
    if not _is_int(value) or not 0 < value <= LARGEST_ID:
        raise BadInput(_("%(name)s must be a participant id.") % {"name": name})
    return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, longest: int, name: str) -> str:
    """A string the database can store: not too long, no NUL, no unpaired surrogate."""
    if not isinstance(value, str):
        raise BadInput(_("%(name)s must be text.") % {"name": name})
    if len(value) > longest:
        raise BadInput(_("%(name)s is too long.") % {"name": name})
    if "\x00" in value:
        raise BadInput(_("%(name)s contains a character that is not allowed.") % {"name": name})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadInput(_("%(name)s contains a character that is not allowed.") % {"name": name}) from error
    return value
