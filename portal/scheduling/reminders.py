"""Visit reminders, queued in the outbox in the booking's own transaction.

Each booking queues one reminder per `PORTAL_REMINDER_HOURS` entry (a week and a day
before, by default) for the patient's own account and for every proxy who manages
appointments: in the portal always, and by email when the patient wants email. The
outbox's worker sends each once `send_after` passes; cancelling or moving the visit
cancels the reminders that have not gone yet. A reminder whose time has already passed
when the visit is booked is not queued at all.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.lib import campus_time
from portal.notifications import outbox
from portal.notifications.models import OutboxMessage
from portal.patients.access import grant_in_force
from portal.patients.models import CommunicationPreference, Patient, ProxyGrant, Scope
from portal.scheduling.models import Appointment

TOPIC = "scheduling.reminder"


def recipients(patient: Patient) -> list[User]:
    """Who hears about the patient's visits: their own account and proxies who manage them."""
    users: list[User] = []
    if patient.account is not None and patient.account.is_active:
        users.append(patient.account)
    grants = ProxyGrant.objects.active().filter(patient=patient).select_related("grantee")
    for grant in grants:
        manages_visits = Scope.SCHEDULE in grant.scope_set and grant_in_force(grant)
        if manages_visits and grant.grantee.is_active and grant.grantee not in users:
            users.append(grant.grantee)
    return users


def wants_email(patient: Patient) -> bool:
    preference = CommunicationPreference.objects.filter(patient=patient).first()
    return preference is None or preference.email_updates


def queue_reminders(appointment: Appointment) -> int:
    """Queue the appointment's reminders; returns how many were queued."""
    now = timezone.now()
    channels = [OutboxMessage.Channel.IN_APP]
    if wants_email(appointment.patient):
        channels.append(OutboxMessage.Channel.EMAIL)
    queued = 0
    for user in recipients(appointment.patient):
        for hours in settings.PORTAL_REMINDER_HOURS:
            send_after = appointment.starts_at - dt.timedelta(hours=hours)
            if send_after <= now:
                continue
            for channel in channels:
                if channel == OutboxMessage.Channel.EMAIL and not user.email:
                    continue
                queued += _queue(appointment, user, channel, send_after, hours)
    return queued


def _queue(appointment: Appointment, user: User, channel: str, send_after: dt.datetime, hours: int) -> int:
    key = f"{TOPIC}:{appointment.pk}:{user.pk}:{channel}:{hours}:{appointment.starts_at:%Y%m%dT%H%M}"
    with translation.override(appointment.patient.preferred_language or settings.LANGUAGE_CODE):
        subject, body = reminder_text(appointment, for_email=channel == OutboxMessage.Channel.EMAIL)
    _message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "recipient": user,
            "patient": appointment.patient,
            "channel": channel,
            "subject": subject,
            "body": body,
            "link": reverse("appointments:detail", args=[appointment.pk]),
            "topic": TOPIC,
            "send_after": send_after,
        },
    )
    if created:
        outbox.deliver_later(send_after)
    return int(created)


def reminder_text(appointment: Appointment, *, for_email: bool = False) -> tuple[str, str]:
    """The reminder's subject and body, in the active language. No health detail beyond
    what the patient needs to turn up: the time and place, and in the portal also the
    visit type and clinician (left out of email, which travels in the clear and whose
    specialty names can say too much)."""
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
    if for_email:
        body = _(
            "An appointment %(when)s, %(where)s. To cancel or change it, use the portal or call %(phone)s."
        )
    else:
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
