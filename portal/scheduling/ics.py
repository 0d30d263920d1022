"""An appointment as an iCalendar file, for "add to my calendar".

Times are written in the campus's own zone (DTSTART;TZID=America/Phoenix) with a
VTIMEZONE for it, not in UTC: a calendar then shows the visit at the campus's wall-clock
time wherever the phone is, and keeps it there across daylight-saving changes. The UID
is the appointment's, so downloading again updates the same event; a cancelled visit
downloads as STATUS:CANCELLED with a higher SEQUENCE, which calendars apply to it.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from portal.scheduling.models import Appointment

PRODUCT_ID = "-//Patient Online Services//Appointments//EN"


def calendar_for(appointment: Appointment, uid_domain: str) -> Calendar:
    """A VCALENDAR with one VEVENT for the visit, and the VTIMEZONE its times use."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(_event(appointment, uid_domain))
    calendar.add_missing_timezones()
    return calendar


def _event(appointment: Appointment, uid_domain: str) -> Event:
    campus = appointment.campus
    cancelled = appointment.status == Appointment.Status.CANCELLED
    event = Event()
    event.add("uid", f"appointment-{appointment.pk}@{uid_domain}")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", appointment.starts_at.astimezone(campus.zone))
    event.add("dtend", appointment.ends_at.astimezone(campus.zone))
    event.add("summary", f"{appointment.visit_type.name} ({campus.short_name})")
    event.add("location", _("Video visit") if appointment.is_video else campus.one_line_address)
    event.add("description", _description(appointment))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", 1 if cancelled else 0)
    return event


def _description(appointment: Appointment) -> str:
    lines = [
        _("With: %(clinician)s") % {"clinician": appointment.practitioner.display_name},
        _("Department: %(department)s") % {"department": appointment.department.name},
        _("Scheduling desk: %(phone)s") % {"phone": appointment.campus.appointments_phone},
    ]
    if appointment.is_video:
        lines.append(_("The video visit opens 15 minutes before the start time."))
    if appointment.visit_type.preparation:
        lines += ["", _("How to prepare:"), appointment.visit_type.preparation]
    return "\n".join(lines)


def filename_for(appointment: Appointment) -> str:
    day = appointment.starts_at.astimezone(appointment.campus.zone).date()
    return f"appointment-{day.isoformat()}-{slugify(appointment.visit_type.name)[:40]}.ics"


def uid_domain() -> str:
    """A stable domain for UIDs, so the same visit keeps its UID whichever host served it."""
    return f"{slugify(settings.SITE_NAME) or 'portal'}.appointments"
