"""Loading e-visits for the user, through the one access policy.

The patient, or a proxy with the message scope, on the patient side only, reaches their
e-visits; the clinicians of a condition's review team answer them (`pool_access`).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from portal.patients.access import PatientAccess, pool_access, refuse, require_object
from portal.patients.models import Scope
from portal.telehealth.access import as_int
from portal.telehealth.models import EVisit


def evisits_of(access: PatientAccess) -> models.QuerySet[EVisit]:
    return EVisit.objects.filter(patient=access.patient).select_related("condition")


def require_patient_evisit(request: HttpRequest, evisit_id: Any) -> tuple[EVisit, PatientAccess]:
    """An e-visit for the patient or a proxy with the message scope, or the 404 (audited)."""
    evisit, access = require_object(
        request,
        EVisit.objects.select_related("condition", "condition__price_item"),
        scope=Scope.MESSAGE,
        pk=as_int(evisit_id),
    )
    if access.is_staff_access:
        refuse(request, evisit.patient, what="telehealth.evisit", lookup=str(evisit_id))
    return evisit, access


def require_review_evisit(request: HttpRequest, evisit_id: Any) -> tuple[EVisit, PatientAccess]:
    """An e-visit for a member of its condition's review team, or the 404 (audited)."""
    evisit = (
        EVisit.objects.select_related(
            "patient", "condition", "condition__review_team", "condition__price_item"
        )
        .filter(pk=as_int(evisit_id))
        .exclude(status__in=(EVisit.Status.DRAFT, EVisit.Status.STOPPED))
        .first()
    )
    access = pool_access(request.user, evisit.patient, evisit.condition.review_team) if evisit else None
    if evisit is None or access is None:
        refuse(request, evisit.patient if evisit else None, what="telehealth.evisit", lookup=str(evisit_id))
    return evisit, access  # type: ignore[return-value]


def review_queue(user: Any) -> models.QuerySet[EVisit]:
    """E-visits sent to review teams the user belongs to (excluding their own and family's)."""
    from portal.patients.models import Patient, ProxyGrant

    own = Patient.objects.filter(
        models.Q(account=user)
        | models.Q(pk__in=ProxyGrant.objects.active().filter(grantee=user).values("patient"))
    )
    return (
        EVisit.objects.filter(
            condition__review_team__members__user=user, condition__review_team__members__active=True
        )
        .exclude(status__in=(EVisit.Status.DRAFT, EVisit.Status.STOPPED))
        .exclude(patient__in=own)
        .select_related("patient", "condition", "reviewer")
    )
