"""Which patients a backend service may export: group membership as querysets.

A `PatientGroup` is a rule, not a list, so its members are always today's: patients whose
home campus (`Patient.primary_campus`) is the group's campus, and/or who are in the care
of the group's care team through a care relationship in force today. A service exports
the members of the groups staff allowed it, or everyone when staff allowed that.

`None` stands for "every patient" where a membership is passed around: the export then
reads whole tables instead of filtering them through a subquery.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.bulk.models import BackendService, PatientGroup
from portal.patients.models import CareRelationship, Patient

# A patient queryset, or None for every patient.
Membership = models.QuerySet[Patient] | None


def member_rule(group: PatientGroup, today: dt.date | None = None) -> Q:
    """The group's rule as a filter on Patient; both parts must hold when both are set."""
    today = today or timezone.localdate()
    rule = Q()
    if group.campus_id is not None:
        rule &= Q(primary_campus_id=group.campus_id)
    if group.care_team_id is not None:
        in_care = CareRelationship.objects.filter(
            care_team_id=group.care_team_id, starts_on__lte=today
        ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        rule &= Q(pk__in=in_care.values("patient_id"))
    if not rule:  # the database refuses a group without a rule; never read one as "everyone"
        return Q(pk__in=[])
    return rule


def members(group: PatientGroup, today: dt.date | None = None) -> models.QuerySet[Patient]:
    return Patient.objects.filter(member_rule(group, today))


def groups_of(service: BackendService) -> models.QuerySet[PatientGroup]:
    """The groups a service may export: all of them for a service allowed every patient."""
    if service.all_patients:
        return PatientGroup.objects.all()
    return PatientGroup.objects.filter(services=service)


def group_of(service: BackendService, group_id: str) -> PatientGroup | None:
    """One group the service may export, by its FHIR id ("group-3"); None otherwise.

    A group the service was not allowed is None exactly like a missing one, so a service
    cannot learn which groups exist.
    """
    if not group_id.startswith("group-"):
        return None
    value = group_id.removeprefix("group-")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return groups_of(service).select_related("campus", "care_team").filter(pk=int(value)).first()


def patients_of(service: BackendService, today: dt.date | None = None) -> Membership:
    """Every patient the service may export (`Patient/$export`): None for all of them."""
    if service.all_patients:
        return None
    rule = Q(pk__in=[])
    for group in service.groups.all():
        rule |= member_rule(group, today)
    return Patient.objects.filter(rule)
