"""Visit reminders, queued in the outbox in the booking's own transaction.

Each booking queues one reminder per `PORTAL_REMINDER_HOURS` entry (a week and a day
before, by default) for the patient's own account and for every proxy who manages
appointments (`notifications.send.recipients`): in the portal always, naming the visit,
and by email or text with the fixed reminder wording only, as the patient's
preferences, text-message consent and quiet hours allow. The outbox's worker sends each
once `send_after` passes; cancelling or moving the visit cancels the reminders that
have not gone yet. A reminder whose time has already passed when the visit is booked
is not queued at all.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.lib import campus_time
from portal.notifications import outbox, send
from portal.notifications.models import Kind, OutboxMessage
from portal.scheduling.models import Appointment

TOPIC = "scheduling.reminder"


def queue_reminders(appointment: Appointment) -> int:
    """Queue the appointment's reminders; returns how many were queued."""
    now = timezone.now()
    patient = appointment.patient
    users = send.recipients(patient, Kind.APPOINTMENTS)
    link = reverse("appointments:detail", args=[appointment.pk])
    with translation.override(send.patient_language(patient)):
        subject, body = reminder_text(appointment)
    queued = 0
    for hours in settings.PORTAL_REMINDER_HOURS:
        send_after = appointment.starts_at - dt.timedelta(hours=hours)
        if send_after <= now:
            continue
        key = f"{TOPIC}:{appointment.pk}:{hours}:{appointment.starts_at:%Y%m%dT%H%M}"
        in_app = sum(
            send.queue(
                user,
                patient,
                OutboxMessage.Channel.IN_APP,
                Kind.APPOINTMENTS,
                key,
                subject,
                body,
                link,
                send_after,
            )
            for user in users
        )
        if in_app:
            outbox.deliver_later(send_after)
        queued += in_app + send.queue_outbound(
            patient,
            users,
            kind=Kind.APPOINTMENTS,
            key=key,
            link=link,
            send_after=send_after,
            event="reminder",
            not_after=appointment.starts_at,
        )
    return queued


def reminder_text(appointment: Appointment) -> tuple[str, str]:
    """The in-portal reminder's subject and body, in the active language: the visit type,
    clinician, time and place the patient needs to turn up, and no other health detail.
    It is only ever shown in the portal; email and text carry the fixed wording."""
    campus = appointment.campus
    when = campus_time.when_label(appointment.starts_at, campus)
    subject = _("Reminder: %(name)s's appointment on %(date)s") % {
        "name": appointment.patient.given_name,
        "date": campus_time.date_label(appointment.starts_at, campus),
    }
    if appointment.is_video:
        where = _("by video (open it from the appointment page up to 15 minutes before)")
    else:
        where = _("at %(campus)s, %(address)s") % {"campus": campus.name, "address": campus.one_line_address}
    body = _(
        "%(visit)s with %(clinician)s, %(when)s, %(where)s. "
        "To cancel or change it, use the portal or call %(phone)s."
    )
    return subject, body % {
        "visit": appointment.visit_type.name,
        "clinician": appointment.practitioner.display_name,
        "when": when,
        "where": where,
        "phone": campus.appointments_phone,
    }


def cancel_reminders(appointment: Appointment) -> int:
    """Cancel the appointment's reminders that have not been sent."""
    return OutboxMessage.objects.filter(
        Q(dedupe_key__startswith=f"{TOPIC}:{appointment.pk}:"),
        sent_at__isnull=True,
        cancelled_at__isnull=True,
    ).update(cancelled_at=timezone.now())
