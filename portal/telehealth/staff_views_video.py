"""The clinician's side of video visits: /staff/video/ (the day's visits, who is waiting, the call).

The host (the clinician the visit is booked with) joins, admits the people waiting (one
at a time or everyone), sends someone on the patient's side back to the waiting room,
ends the call for everyone, marks the visit completed and invites a second clinician
or an interpreter. Invited staff join and leave; everything else is the host's. Every
POST works without JavaScript (it redirects back to the visit with a message) and from
the call script's fetch, which only looks at whether it succeeded (a 403 or 404 did not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.patients.access import PatientAccess, Role, record_read
from portal.scheduling.models import Appointment
from portal.staff.decorators import staff_page
from portal.telehealth import staff_video_lists as lists
from portal.telehealth import video
from portal.telehealth.access import INVITED_ROLES, LIVE_STATUSES, closes_at, opens_at, require_staff_visit
from portal.telehealth.call import call_config
from portal.telehealth.forms_video import InviteForm, WaitingPollForm
from portal.telehealth.models import Participant, VideoVisit


def _video_staff_user(request: HttpRequest) -> Any:
    user = signed_in_user(request)
    if not lists.video_staff(user):
        raise Http404
    return user


def _audit_list(request: HttpRequest, patients: list[int], rows: list[int]) -> None:
    """One audit event per list shown, naming every patient on it (as the desk's day list does)."""
    if not rows:
        return
    record(
        Actor.from_request(request),
        "telehealth.video_list",
        kind=Kind.READ,
        role=Role.STAFF.value,
        detail={"patients": sorted(set(patients)), "rows": rows},
    )


@staff_page
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    """The user's video visits from earlier today through the next days: work in progress first."""
    user = _video_staff_user(request)
    rows = lists.day_rows(user)
    waiting = lists.waiting_now(user)
    _audit_list(
        request,
        [row["appointment"].patient_id for row in rows] + [p.visit.appointment.patient_id for p in waiting],
        [row["appointment"].pk for row in rows],
    )
    context = {
        "current": [row for row in rows if row["status"] not in lists.FINISHED],
        "finished": [row for row in reversed(rows) if row["status"] in lists.FINISHED],
        "truncated": len(rows) == lists.VISIT_ROWS,
        "days_ahead": lists.DAYS_AHEAD,
        **lists.waiting_context(waiting, started=int(timezone.now().timestamp())),
    }
    return render(request, "telehealth/staff/video_today.html", context)


@staff_page
@require_GET
def waiting_fragment(request: HttpRequest) -> HttpResponse:
    """The "Waiting now" box, polled every few seconds; 204 (nothing to swap) while unchanged."""
    user = _video_staff_user(request)
    form = WaitingPollForm(request.GET)
    seen, started = (form.cleaned_data["seen"], form.cleaned_data["started"]) if form.is_valid() else ("", 0)
    waiting = lists.waiting_now(user)
    context = lists.waiting_context(waiting, started or 0)
    if seen == context["digest"] and context["polling"]:
        return HttpResponse(status=204)
    _audit_list(
        request, [p.visit.appointment.patient_id for p in waiting], [p.visit.appointment_id for p in waiting]
    )
    return render(request, "telehealth/staff/video_waiting.html", context)


# One visit ---------------------------------------------------------------------------------


def _is_host(request: HttpRequest, appointment: Appointment) -> bool:
    return bool(appointment.practitioner.user_id) and appointment.practitioner.user_id == request.user.pk


def _state(appointment: Appointment, visit: VideoVisit | None, now: dt.datetime) -> str:
    if appointment.status == Appointment.Status.FULFILLED:
        return "completed"
    if appointment.status not in LIVE_STATUSES:
        return "cancelled"
    if visit is not None and visit.is_ended:
        return "ended"
    if now < opens_at(appointment):
        return "early"
    if now > closes_at(appointment):
        return "late"
    return "open"


def _visit_context(request: HttpRequest, appointment: Appointment, access: PatientAccess) -> dict[str, Any]:
    now = timezone.now()
    visit = VideoVisit.objects.filter(appointment=appointment).first()
    participants = list(visit.participants.select_related("user")) if visit is not None else []
    me = next((p for p in participants if p.user_id == request.user.pk), None)
    state = _state(appointment, visit, now)
    is_host = _is_host(request, appointment)
    in_call = state == "open" and me is not None and me.status == Participant.Status.ADMITTED
    context: dict[str, Any] = {
        "access": access,
        "appointment": appointment,
        "patient": appointment.patient,
        "campus": appointment.campus,
        "age": appointment.patient.age_on(appointment.campus.local_now().date()),
        "visit": visit,
        "state": state,
        "opens_at": opens_at(appointment),
        "me": me,
        "is_host": is_host,
        "in_call": in_call,
        "may_join": state == "open" and not in_call,
        "may_end": is_host and visit is not None and not visit.is_ended,
        "may_complete": is_host and appointment.status in LIVE_STATUSES and now >= opens_at(appointment),
        "may_invite": is_host and state in ("early", "open"),
        "waiting": [p for p in participants if p.on_patient_side and p.status == Participant.Status.WAITING],
        "in_visit": [p for p in participants if p.status == Participant.Status.ADMITTED],
        "invitations": [p for p in participants if p.role in INVITED_ROLES],
    }
    if in_call and me is not None:
        config = call_config(request, me, appointment, "staff")
        if not is_host:
            # Only the host ends the visit for everyone and decides who is in the call.
            config.update(endUrl="", admitUrl="", removeUrl="")
        context["video_config"] = config
    return context


def _render_visit(
    request: HttpRequest, appointment: Appointment, access: PatientAccess, form: InviteForm, status: int = 200
) -> HttpResponse:
    record_read(request, access, "telehealth.video_view", obj=appointment)
    context = {**_visit_context(request, appointment, access), "invite_form": form}
    return render(request, "telehealth/staff/video_visit.html", context, status=status)


@staff_page
@require_GET
def visit(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_staff_visit(request, appointment_id)
    return _render_visit(request, appointment, access, InviteForm(appointment=appointment))


def _tell(request: HttpRequest, level: int, text: str) -> None:
    """A message for the page the browser goes back to; the call script's fetch follows no
    redirect and shows no page, so a message would only pop up later, out of place."""
    if request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate":
        messages.add_message(request, level, text)


def _back(appointment: Appointment) -> HttpResponse:
    return redirect("staff_video:visit", appointment.pk)


def _host_only(request: HttpRequest, appointment: Appointment) -> HttpResponse | None:
    """Invited staff join and leave; admitting, ending, completing and inviting are the host's."""
    if _is_host(request, appointment):
        return None
    context = {"appointment": appointment, "patient": appointment.patient}
    return render(request, "telehealth/staff/video_host_only.html", context, status=403)


@staff_page
@require_POST
def join(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_staff_visit(request, appointment_id)
    try:
        video.do_staff_join(Actor.from_request(request), access, appointment)
    except video.VisitClosed:
        _tell(
            request,
            messages.ERROR,
            _("This video visit cannot be joined now: it is not open, or it has ended."),
        )
    except video.NotAllowed:
        _tell(request, messages.ERROR, _("Your invitation to this visit was withdrawn."))
    return _back(appointment)


def _named_participant(request: HttpRequest) -> int | None:
    """The POST's `participant`: None when it names no one (everyone), 0 (matching no one) when
    it is not a participant id at all."""
    value = request.POST.get("participant", "")
    if value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 10) or int(value) >= 2**31:
        return 0
    return int(value)


@staff_page
@require_POST
def admit(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Admit one person (`participant`) or everyone waiting; each one's right is decided again."""
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    one = _named_participant(request)
    visit = VideoVisit.objects.filter(appointment=appointment).first()
    try:
        admitted = (
            video.do_admit(Actor.from_request(request), access, visit, participant_id=one)
            if visit is not None
            else 0
        )
    except video.VisitClosed:
        _tell(request, messages.ERROR, _("The visit has ended, so no one can be admitted."))
        return _back(appointment)
    if admitted:
        text = ngettext("Admitted %(count)d person.", "Admitted %(count)d people.", admitted)
        _tell(request, messages.SUCCESS, text % {"count": admitted})
    elif one is None:
        _tell(request, messages.INFO, _("No one is waiting to be admitted."))
    else:
        _tell(request, messages.INFO, _("That person is no longer waiting to be admitted."))
    return _back(appointment)


@staff_page
@require_POST
def remove(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Send the patient or a proxy (`participant`) back to the waiting room."""
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    one = _named_participant(request)
    participant = (
        Participant.objects.select_related("visit")
        .filter(pk=one or 0, visit__appointment=appointment, role__in=Participant.PATIENT_SIDE)
        .first()
    )
    if participant is not None and video.do_remove_participant(
        Actor.from_request(request), access, participant
    ):
        _tell(
            request,
            messages.SUCCESS,
            _("%(name)s is back in the waiting room. Admit them again when you are ready.")
            % {"name": participant.display_name},
        )
    else:
        _tell(request, messages.INFO, _("That person is not in the call."))
    return _back(appointment)


@staff_page
@require_POST
def end(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    visit = VideoVisit.objects.filter(appointment=appointment).first()
    if visit is not None and video.do_end_visit(Actor.from_request(request), access, visit):
        _tell(request, messages.SUCCESS, _("The visit has ended for everyone."))
    else:
        _tell(request, messages.INFO, _("The call was not going on, so there was nothing to end."))
    return _back(appointment)


@staff_page
@require_POST
def complete(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Ends the call if it is still on and marks the appointment fulfilled."""
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    if appointment.status not in LIVE_STATUSES:
        _tell(
            request,
            messages.INFO,
            _("This visit is already closed: %(status)s.") % {"status": appointment.get_status_display()},
        )
    elif timezone.now() < opens_at(appointment):
        _tell(request, messages.ERROR, _("A visit can be marked completed once it has opened."))
    else:
        video.do_complete_visit(Actor.from_request(request), access, appointment)
        _tell(request, messages.SUCCESS, _("The visit is marked completed."))
    return _back(appointment)


@staff_page
@require_POST
def invite(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    form = InviteForm(request.POST, appointment=appointment)
    if not form.is_valid():
        return _render_visit(request, appointment, access, form, status=400)
    invitee = form.cleaned_data["practitioner"].user
    try:
        if appointment.status not in LIVE_STATUSES:
            raise video.VisitClosed
        video.do_invite(Actor.from_request(request), access, appointment, invitee)
    except video.VisitClosed:
        _tell(request, messages.ERROR, _("The visit has ended or was cancelled, so no one can be invited."))
    except video.NotAllowed:
        _tell(request, messages.ERROR, _("That person cannot be invited to this visit."))
    else:
        name = form.cleaned_data["practitioner"].display_name
        _tell(
            request,
            messages.SUCCESS,
            _("%(name)s is invited and has been told in the staff workspace.") % {"name": name},
        )
    return _back(appointment)


@staff_page
@require_POST
def withdraw_invite(request: HttpRequest, appointment_id: int, participant_id: int) -> HttpResponse:
    appointment, access = require_staff_visit(request, appointment_id)
    if refused := _host_only(request, appointment):
        return refused
    participant = (
        Participant.objects.select_related("visit")
        .filter(pk=participant_id, visit__appointment=appointment, role__in=INVITED_ROLES)
        .first()
    )
    if participant is None:
        raise Http404
    already = participant.status == Participant.Status.REMOVED
    video.do_withdraw_invite(Actor.from_request(request), access, participant)
    if already:
        _tell(request, messages.INFO, _("That invitation was already withdrawn."))
    else:
        _tell(request, messages.SUCCESS, _("The invitation is withdrawn."))
    return _back(appointment)
