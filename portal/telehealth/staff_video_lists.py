"""The clinician's video visit lists: their visits near today, and who is waiting now.

Both cost a fixed number of queries however many visits there are: the appointments
with their patient, visit type, campus, clinician and video visit in one, the patients
waiting in one more (the list); the waiting participants with their visit in one (the
"Waiting now" box).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from portal.organization.models import Practitioner
from portal.patients.models import Patient, ProxyGrant
from portal.scheduling.models import Appointment
from portal.telehealth.access import LIVE_STATUSES, hosted_visits
from portal.telehealth.models import Participant, VideoVisit

VISIT_ROWS = 50
WAITING_ROWS = 20
DAYS_AHEAD = 7
# A visit stays on the list for a while after it ended, so the clinician can still mark it completed.
KEPT_AFTER_END = dt.timedelta(hours=12)
# A patient whose page has not polled for this long may have closed it.
STALE_AFTER = dt.timedelta(seconds=60)
FINISHED = ("completed", "missed", "ended")


def video_staff(user: Any) -> bool:
    """Clinicians and interpreters (active) host or join video visits; other staff do not."""
    practitioner = getattr(user, "practitioner", None)
    return bool(
        practitioner is not None
        and practitioner.active
        and (practitioner.is_clinical or practitioner.role == Practitioner.Role.INTERPRETER)
    )


def my_visits(user: Any) -> QuerySet[Appointment]:
    """The user's hosted and invited visits, near now, minus their own and their family's."""
    now = timezone.now()
    own = Patient.objects.filter(
        Q(account=user) | Q(pk__in=ProxyGrant.objects.active().filter(grantee=user).values("patient"))
    )
    # hosted_visits joins the participants, so an appointment can come out of it more than once.
    return (
        Appointment.objects.filter(pk__in=hosted_visits(user).values("pk"))
        .filter(ends_at__gte=now - KEPT_AFTER_END, starts_at__lt=now + dt.timedelta(days=DAYS_AHEAD))
        .exclude(status=Appointment.Status.CANCELLED)
        .exclude(patient__in=own)
    )


# The list ----------------------------------------------------------------------------------


def day_rows(user: Any) -> list[dict[str, Any]]:
    """Up to VISIT_ROWS of the user's visits in time order, each with its status for the list."""
    waiting = Participant.objects.filter(
        status=Participant.Status.WAITING, role__in=Participant.PATIENT_SIDE
    ).order_by("waiting_since", "pk")
    appointments = (
        my_visits(user)
        .select_related("patient", "visit_type", "campus", "practitioner", "video_visit")
        .prefetch_related(Prefetch("video_visit__participants", queryset=waiting, to_attr="waiting_now"))
        .order_by("starts_at", "pk")[:VISIT_ROWS]
    )
    rows = [_row(appointment) for appointment in appointments]
    _number_the_queue(rows)
    return rows


def _row(appointment: Appointment) -> dict[str, Any]:
    visit: VideoVisit | None = getattr(appointment, "video_visit", None)
    waiting: list[Participant] = getattr(visit, "waiting_now", []) if visit is not None else []
    if appointment.status == Appointment.Status.FULFILLED:
        status = "completed"
    elif appointment.status == Appointment.Status.NOSHOW:
        status = "missed"
    elif visit is not None and visit.is_ended:
        status = "ended"
    elif visit is not None and visit.status == VideoVisit.Status.IN_PROGRESS:
        status = "in_progress"
    elif waiting:
        status = "waiting"
    else:
        status = "not_started"
    since = min((p.waiting_since for p in waiting if p.waiting_since), default=None)
    return {"appointment": appointment, "status": status, "since": since, "place": None}


def _number_the_queue(rows: list[dict[str, Any]]) -> None:
    """Each waiting patient's place in their clinician's queue (earliest arrival first)."""
    queued = sorted(
        (row for row in rows if row["status"] == "waiting" and row["since"] is not None),
        key=lambda row: (row["since"], row["appointment"].pk),
    )
    places: dict[int, int] = {}
    for row in queued:
        clinician = row["appointment"].practitioner_id
        places[clinician] = places.get(clinician, 0) + 1
        row["place"] = places[clinician]


# Who is waiting now ------------------------------------------------------------------------


def waiting_now(user: Any) -> list[Participant]:
    """Patients and proxies in the waiting room of the user's live visits, longest waiting first."""
    live = my_visits(user).filter(status__in=LIVE_STATUSES)
    return list(
        Participant.objects.filter(
            visit__appointment__in=live, status=Participant.Status.WAITING, role__in=Participant.PATIENT_SIDE
        )
        .exclude(visit__status=VideoVisit.Status.ENDED)
        .select_related(
            "visit__appointment__patient", "visit__appointment__campus", "visit__appointment__visit_type"
        )
        .order_by("waiting_since", "pk")[:WAITING_ROWS]
    )


def waiting_context(waiting: list[Participant], started: int) -> dict[str, Any]:
    """What the "Waiting now" box shows, the digest of it its next poll sends back, and whether
    it polls at all (`started`: when the page was loaded, in epoch seconds)."""
    now = timezone.now()
    shown = "|".join(f"{p.pk}:{_is_stale(p, now)}" for p in waiting)
    return {
        "waiting": [{"participant": p, "stale": _is_stale(p, now)} for p in waiting],
        "digest": hashlib.sha256(shown.encode()).hexdigest()[:16],
        "started": started,
        "polling": _keeps_polling(started, now),
    }


def _is_stale(participant: Participant, now: dt.datetime) -> bool:
    return participant.last_seen_at is None or now - participant.last_seen_at > STALE_AFTER


def _keeps_polling(started: int, now: dt.datetime) -> bool:
    """Polling counts as activity, so it stops before the idle sign-out would have come: a
    screen left open does not keep the session alive forever (reloading starts again)."""
    limit = settings.PORTAL_IDLE_TIMEOUT_MINUTES * 60 - settings.PORTAL_IDLE_WARNING_SECONDS
    return 0 <= now.timestamp() - started < limit
