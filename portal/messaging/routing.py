"""Which staff pool answers a message, and how soon.

Clinical topics go to the clinical care team the patient chose (one they have a care
relationship with); appointment questions to the scheduling desk of that team's campus
(or the patient's own campus); billing to the billing office. The response-time target
of each topic (`PORTAL_MESSAGE_RESPONSE_HOURS`) is shown before sending and marks a
thread overdue in the staff inbox once passed.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.messaging.models import Topic
from portal.organization.models import Campus, CareTeam
from portal.patients.models import Patient

CLINICAL_TOPICS = frozenset({Topic.MEDICAL, Topic.RESULT, Topic.PRESCRIPTION, Topic.REFERRAL, Topic.OTHER})


class NoPool(Exception):
    """No staff pool can take this topic for this patient; the message says what to do instead."""


def patient_care_teams(patient: Patient, on: dt.date | None = None) -> QuerySet[CareTeam]:
    """The clinical care teams the patient may write to: those with an active care relationship."""
    day = on or timezone.localdate()
    return (
        CareTeam.objects.filter(
            kind=CareTeam.Kind.CLINICAL,
            care_relationships__patient=patient,
            care_relationships__starts_on__lte=day,
        )
        .filter(Q(care_relationships__ends_on__isnull=True) | Q(care_relationships__ends_on__gte=day))
        .select_related("campus")
        .distinct()
        .order_by("name")
    )


def pool_for(
    topic: str, patient: Patient, care_team: CareTeam | None, campus: Campus | None = None
) -> CareTeam:
    """The pool that answers `topic` for the patient; `care_team` is the clinical team chosen.

    `campus` is where the appointment a question is about takes place: its desk knows
    the visit, so it answers rather than the desk of the team's (or patient's) campus.
    """
    if topic in CLINICAL_TOPICS:
        if care_team is None:
            raise NoPool(_("Choose the care team to write to."))
        return care_team
    if topic == Topic.APPOINTMENT:
        campus = campus or _campus_for(patient, care_team)
        desk = CareTeam.objects.filter(kind=CareTeam.Kind.SCHEDULING_DESK, campus=campus).first()
        if desk is None:
            raise NoPool(_("This campus has no scheduling desk taking messages. Please call the campus."))
        return desk
    if topic == Topic.BILLING:
        office = CareTeam.objects.filter(kind=CareTeam.Kind.BILLING_OFFICE).order_by("pk").first()
        if office is None:
            raise NoPool(_("The billing office is not taking messages. Please call the clinic."))
        return office
    raise NoPool(_("Choose what the message is about."))


def _campus_for(patient: Patient, care_team: CareTeam | None) -> Campus | None:
    if care_team is not None and care_team.campus_id is not None:
        return care_team.campus
    return patient.primary_campus


def response_hours(topic: str) -> int:
    return int(
        settings.PORTAL_MESSAGE_RESPONSE_HOURS.get(topic, settings.PORTAL_MESSAGE_RESPONSE_HOURS["other"])
    )


def due_at(topic: str, sent_at: dt.datetime) -> dt.datetime:
    return sent_at + dt.timedelta(hours=response_hours(topic))


def response_time_text(topic: str) -> str:
    """ "Usually answered within 2 days", for the compose page."""
    hours = response_hours(topic)
    if hours % 24 == 0:
        days = hours // 24
        return ngettext(
            "Usually answered within %(count)d day.", "Usually answered within %(count)d days.", days
        ) % {"count": days}
    return ngettext(
        "Usually answered within %(count)d hour.", "Usually answered within %(count)d hours.", hours
    ) % {"count": hours}
