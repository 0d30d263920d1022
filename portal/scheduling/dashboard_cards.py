"""The home page's "Upcoming appointments" card: the next three visits, each in its campus's time."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _

from portal.dashboard.cards import Card, card_provider
from portal.patients.access import PatientAccess
from portal.scheduling.access import appointments_of, may_see_appointments
from portal.scheduling.views_appointments import upcoming_condition

SHOWN = 3


@card_provider
def upcoming_appointments(request: HttpRequest, access: PatientAccess) -> Card | None:
    """Two queries whatever the history: the campuses (for "today"), then the next visits."""
    if not may_see_appointments(access):
        return None
    upcoming = list(appointments_of(access).filter(upcoming_condition()).order_by("starts_at", "id")[:SHOWN])
    if not upcoming:
        return None
    return Card(
        _("Upcoming appointments"), "scheduling/cards/appointments.html", {"appointments": upcoming}, order=20
    )
