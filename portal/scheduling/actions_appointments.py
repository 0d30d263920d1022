"""What a patient (or a proxy who schedules) tells the campus's desk about a visit:
"running late" and "cannot come". Cancelling and rescheduling live in `booking.py`."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_write
from portal.scheduling.access import may_manage_appointments
from portal.scheduling.models import Appointment, PatientNotice

# Notices are for a visit that is close: the same day or the day before.
NOTICE_WINDOW = dt.timedelta(hours=48)
# More than this on one visit is not a message to the desk any more.
MAX_NOTICES_PER_APPOINTMENT = 10


class NoticeRefused(Exception):
    """The notice cannot be sent; `message` says why, for the patient."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def may_send_notice(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    """Whether the visit is booked, not over, and close enough for a notice to make sense."""
    now = now or timezone.now()
    return (
        appointment.status == Appointment.Status.BOOKED
        and appointment.ends_at > now
        and appointment.starts_at - now <= NOTICE_WINDOW
    )


@transaction.atomic
def do_send_notice(
    actor: Actor,
    access: PatientAccess,
    appointment: Appointment,
    kind: str,
    minutes: int | None,
    note: str,
) -> PatientNotice:
    """Tell the desk the patient is late (by `minutes`) or cannot come; audited."""
    if not may_manage_appointments(access) or appointment.patient_id != access.patient.pk:
        raise NoticeRefused(_("You cannot send notices about this visit."))
    # Lock the visit so a notice cannot slip in beside a cancel, and the cap holds.
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if not may_send_notice(appointment):
        raise NoticeRefused(_("You can only tell the clinic about a visit that is coming up soon."))
    if kind not in PatientNotice.Kind.values:
        raise NoticeRefused(_("Choose running late or cannot come."))
    if kind == PatientNotice.Kind.RUNNING_LATE and minutes is None:
        raise NoticeRefused(_("Say how late you will be."))
    if appointment.notices.count() >= MAX_NOTICES_PER_APPOINTMENT:
        raise NoticeRefused(_("You have sent many notices about this visit: please call the clinic."))
    notice = PatientNotice.objects.create(
        appointment=appointment,
        kind=kind,
        minutes_late=minutes if kind == PatientNotice.Kind.RUNNING_LATE else None,
        note=note[:500],
        created_by=actor.user,
    )
    record_write(
        actor,
        access,
        "appointment.notice",
        obj=appointment,
        detail={"kind": kind, "minutes": notice.minutes_late},
    )
    return notice
