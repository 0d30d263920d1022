"""Every change to a video visit: waiting, admitting, joining, leaving, sending back, ending, inviting.

Each is atomic, locks the visit row first (so two clicks or two app servers agree on
its state) and writes its audit event in the same transaction. Visit events show in
the patient's "Who viewed my record" as joined, admitted, ended.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.notifications.send import notify_staff
from portal.patients.access import PatientAccess, Role, decide, record_write
from portal.scheduling.models import Appointment
from portal.telehealth.access import closes_at, is_joinable, may_join_video, video_visit_of
from portal.telehealth.models import Participant, Signal, VideoVisit
from portal.telehealth.tasks import schedule_close


class VisitClosed(Exception):
    """The visit cannot be joined now (not yet open, past its window, cancelled, or ended)."""


class NotAllowed(Exception):
    """The person may not do that in this visit (an invitation to the wrong kind of person)."""


def new_session() -> str:
    return secrets.token_urlsafe(18)


def display_name(user: Any) -> str:
    practitioner = getattr(user, "practitioner", None)
    if practitioner is not None and practitioner.active:
        return str(practitioner.display_name)
    return str(user.get_full_name() or user.get_username())


def _locked(visit: VideoVisit) -> VideoVisit:
    return VideoVisit.objects.select_for_update().get(pk=visit.pk)


def _seat(visit: VideoVisit, user: Any, role: str) -> Participant:
    participant, _created = Participant.objects.get_or_create(
        visit=visit,
        user=user,
        defaults={
            "role": role,
            "status": Participant.Status.WAITING,
            "display_name": display_name(user)[:200],
        },
    )
    return participant


def do_enter_waiting_room(actor: Actor, access: PatientAccess, appointment: Appointment) -> Participant:
    """The patient or a proxy, past the device check, waits to be admitted.

    Only someone still admitted (a reload, a dropped connection: they never left) goes
    straight back into the call. Someone who left, or whom the host sent back to the
    waiting room, waits to be admitted again: the host decides who is in the call. The
    first arrival checks the appointment in and tells the clinician.
    """
    if not may_join_video(access):
        raise NotAllowed
    now = timezone.now()
    with transaction.atomic():
        visit = _locked(video_visit_of(appointment))
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if visit.is_ended or not is_joinable(appointment, now):
            raise VisitClosed
        role = Participant.Role.PATIENT if access.role is Role.SELF else Participant.Role.PROXY
        participant = _seat(visit, access.user, role)
        back_in = participant.status == Participant.Status.ADMITTED
        if participant.status not in (Participant.Status.WAITING, Participant.Status.ADMITTED):
            # Back after leaving: they queue again, and the host has not seen them this time.
            participant.status = Participant.Status.WAITING
            participant.waiting_since = None
            participant.seen_by_host_at = None
        if not back_in:
            participant.waiting_since = participant.waiting_since or now
        participant.session = new_session()
        participant.last_seen_at = now
        participant.left_at = None
        participant.save()
        first_arrival = appointment.status == Appointment.Status.BOOKED
        if first_arrival:
            appointment.status = Appointment.Status.ARRIVED
            appointment.arrived_at = now
            appointment.save(update_fields=["status", "arrived_at", "updated_at"])
        record_write(actor, access, "telehealth.joined", obj=visit, detail={"rejoined": back_in})
        schedule_close(visit, closes_at(appointment))
        if first_arrival:
            _tell_host(appointment)
    return participant


def _tell_host(appointment: Appointment) -> None:
    host = appointment.practitioner.user
    if host is None:
        return
    notify_staff(
        [host],
        key=f"telehealth.waiting:{appointment.pk}",
        link=reverse("staff_video:visit", args=[appointment.pk]),
        title=_("A patient is waiting for a video visit"),
        body=_("Open the video visit to admit them."),
        patient=appointment.patient,
    )


def do_staff_join(actor: Actor, access: PatientAccess, appointment: Appointment) -> Participant:
    """The host, or staff they invited, joins the call (staff are never kept waiting)."""
    now = timezone.now()
    with transaction.atomic():
        visit = _locked(video_visit_of(appointment))
        if visit.is_ended or not is_joinable(appointment, now):
            raise VisitClosed
        is_host = appointment.practitioner.user_id == access.user.pk
        participant = _seat(
            visit, access.user, Participant.Role.HOST if is_host else Participant.Role.CLINICIAN
        )
        if participant.status == Participant.Status.REMOVED:
            raise NotAllowed
        participant.status = Participant.Status.ADMITTED
        participant.session = new_session()
        participant.admitted_at = participant.admitted_at or now
        participant.last_seen_at = now
        participant.left_at = None
        participant.save()
        record_write(actor, access, "telehealth.staff_joined", obj=visit, detail={"role": participant.role})
        schedule_close(visit, closes_at(appointment))
    return participant


def do_admit(
    actor: Actor, access: PatientAccess, visit: VideoVisit, participant_id: int | None = None
) -> int:
    """The host admits one person waiting on the patient's side, or everyone waiting; returns how many.

    Each one's right is decided again now (the patient, or a proxy with the view scope,
    never through staff rights): a grant revoked or narrowed while they waited keeps
    them out. Someone admitted before keeps their first `admitted_at`, which bounds the
    chat they may read.
    """
    now = timezone.now()
    with transaction.atomic():
        visit = _locked(visit)
        if visit.is_ended:
            raise VisitClosed
        waiting = Participant.objects.filter(
            visit=visit, status=Participant.Status.WAITING, role__in=Participant.PATIENT_SIDE
        ).select_related("user", "visit__appointment__patient")
        if participant_id is not None:
            waiting = waiting.filter(pk=participant_id)
        admitted = [p for p in waiting if _may_be_admitted(p)]
        for participant in admitted:
            participant.status = Participant.Status.ADMITTED
            participant.admitted_at = participant.admitted_at or now
            participant.admitted_by = access.user
            participant.save(update_fields=["status", "admitted_at", "admitted_by"])
        if admitted and visit.status == VideoVisit.Status.WAITING:
            visit.status = VideoVisit.Status.IN_PROGRESS
            visit.started_at = now
            visit.save(update_fields=["status", "started_at"])
        if admitted:
            detail = {"admitted": len(admitted), "participants": [p.pk for p in admitted]}
            record_write(actor, access, "telehealth.admitted", obj=visit, detail=detail)
    return len(admitted)


def _may_be_admitted(participant: Participant) -> bool:
    access = decide(participant.user, participant.visit.appointment.patient)
    return access is not None and may_join_video(access)


def do_remove_participant(actor: Actor, access: PatientAccess, participant: Participant) -> bool:
    """The host sends someone on the patient's side back to the waiting room (to be admitted again).

    Their signaling is deleted so no connection to them carries on; the others' pages
    drop them at the next poll, and their own page turns back into the waiting room.
    False when they were not in the call.
    """
    now = timezone.now()
    with transaction.atomic():
        _locked(participant.visit)
        changed = Participant.objects.filter(
            pk=participant.pk, role__in=Participant.PATIENT_SIDE, status=Participant.Status.ADMITTED
        ).update(status=Participant.Status.WAITING, waiting_since=now, seen_by_host_at=now)
        if changed:
            Signal.objects.filter(Q(recipient=participant) | Q(sender=participant)).delete()
            record_write(
                actor,
                access,
                "telehealth.removed",
                obj=participant.visit,
                detail={"participant": participant.pk},
            )
    return bool(changed)


def do_leave(actor: Actor, access: PatientAccess, participant: Participant) -> None:
    """Someone leaves the call; the visit goes on for the others, and they may come back."""
    with transaction.atomic():
        _locked(participant.visit)
        changed = Participant.objects.filter(
            pk=participant.pk, status__in=(Participant.Status.WAITING, Participant.Status.ADMITTED)
        ).update(status=Participant.Status.LEFT, left_at=timezone.now())
        Signal.objects.filter(recipient=participant).delete()
        if changed:
            record_write(actor, access, "telehealth.left", obj=participant.visit)


def do_end_visit(actor: Actor, access: PatientAccess, visit: VideoVisit) -> bool:
    """The call ends for everyone; its signaling is deleted (it holds network addresses)."""
    now = timezone.now()
    with transaction.atomic():
        visit = _locked(visit)
        if visit.is_ended:
            return False
        visit.status = VideoVisit.Status.ENDED
        visit.ended_at = now
        visit.ended_by = access.user
        visit.save(update_fields=["status", "ended_at", "ended_by"])
        visit.participants.filter(
            status__in=(Participant.Status.WAITING, Participant.Status.ADMITTED)
        ).update(status=Participant.Status.LEFT, left_at=now)
        Signal.objects.filter(visit=visit).delete()
        record_write(actor, access, "telehealth.ended", obj=visit)
    return True


def do_complete_visit(actor: Actor, access: PatientAccess, appointment: Appointment) -> None:
    """The clinician marks the video visit completed (ending the call if it is still going)."""
    visit = video_visit_of(appointment)
    with transaction.atomic():
        do_end_visit(actor, access, visit)
        changed = Appointment.objects.filter(
            pk=appointment.pk, status__in=(Appointment.Status.BOOKED, Appointment.Status.ARRIVED)
        ).update(status=Appointment.Status.FULFILLED, updated_at=timezone.now())
        if changed:
            record_write(actor, access, "telehealth.completed", obj=appointment)


def do_invite(actor: Actor, access: PatientAccess, appointment: Appointment, invitee: Any) -> Participant:
    """The host invites a second clinician or an interpreter; they are told in the staff workspace."""
    practitioner = getattr(invitee, "practitioner", None)
    if practitioner is None or not practitioner.active or invitee.pk == access.user.pk:
        raise NotAllowed
    role = Participant.Role.INTERPRETER if practitioner.role == "interpreter" else Participant.Role.CLINICIAN
    if role == Participant.Role.CLINICIAN and practitioner.role not in practitioner.CLINICAL_ROLES:
        raise NotAllowed
    with transaction.atomic():
        visit = _locked(video_visit_of(appointment))
        if visit.is_ended:
            raise VisitClosed
        participant, created = Participant.objects.get_or_create(
            visit=visit,
            user=invitee,
            defaults={
                "role": role,
                "status": Participant.Status.INVITED,
                "invited_by": access.user,
                "display_name": display_name(invitee)[:200],
            },
        )
        if not created and participant.status != Participant.Status.REMOVED:
            return participant
        if not created and participant.role not in Participant.STAFF_SIDE:
            raise NotAllowed
        participant.status = Participant.Status.INVITED
        participant.invited_by = access.user
        participant.save(update_fields=["status", "invited_by"])
        record_write(actor, access, "telehealth.invited", obj=visit, detail={"role": role})
        notify_staff(
            [invitee],
            key=f"telehealth.invite:{participant.pk}:{timezone.now().timestamp()}",
            link=reverse("staff_video:visit", args=[appointment.pk]),
            title=_("You are invited to join a video visit"),
            body=_("Open the video visit to join the clinician and the patient."),
            patient=appointment.patient,
        )
    return participant


def do_withdraw_invite(actor: Actor, access: PatientAccess, participant: Participant) -> None:
    """The host withdraws an invitation (and removes the invited person from the call)."""
    with transaction.atomic():
        _locked(participant.visit)
        changed = (
            Participant.objects.filter(
                pk=participant.pk, role__in=(Participant.Role.CLINICIAN, Participant.Role.INTERPRETER)
            )
            .exclude(status=Participant.Status.REMOVED)
            .update(status=Participant.Status.REMOVED, left_at=timezone.now())
        )
        Signal.objects.filter(recipient=participant).delete()
        if changed:
            record_write(actor, access, "telehealth.uninvited", obj=participant.visit)
