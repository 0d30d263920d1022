from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.dashboard.cards import Card, card_provider
from portal.organization.hours import hours_today
from portal.organization.models import Campus
from portal.patients.access import PatientAccess
from portal.patients.models import CareRelationship, Scope


@card_provider
def care_team(request: HttpRequest, access: PatientAccess) -> Card | None:
    if not access.allows(Scope.VIEW):
        return None
    today = timezone.now().date()
    relationships = list(
        CareRelationship.objects.filter(patient=access.patient, starts_on__lte=today)
        .exclude(ends_on__lt=today)
        .select_related("care_team__campus", "practitioner")
        .order_by("care_team__name")
    )
    campus = Campus.objects.prefetch_related("opening_hours").get(pk=access.patient.primary_campus_id)
    context = {"relationships": relationships, "campus": campus, "hours_today": hours_today(campus)}
    return Card(_("Your care"), "organization/cards/care.html", context, order=50)
