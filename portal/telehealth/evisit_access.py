"""Loading e-visits for the user, through the one access policy.

The patient, or a proxy with the message scope, on the patient side only, reaches their
e-visits, less those in a confidential category the access hides (`EVisit.sensitivity`:
a parent of a 12-17-year-old gets the same 404 as for a missing one). The clinicians
(`Practitioner.CLINICAL_ROLES`) of a condition's review team answer them (`pool_access`);
an interpreter or a scheduler added to the team does not. Nobody on the staff side opens
an e-visit the patient withdrew before anyone took it: it was never theirs to answer.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from portal.messaging import roles
from portal.patients.access import PatientAccess, filter_confidential, pool_access, refuse, require_object
from portal.patients.models import Scope
from portal.telehealth.access import as_int
from portal.telehealth.models import EVisit

NEVER_FOR_REVIEW = (EVisit.Status.DRAFT, EVisit.Status.STOPPED)


def evisits_of(access: PatientAccess) -> models.QuerySet[EVisit]:
    """The patient's e-visits this access may see."""
    found = EVisit.objects.filter(patient=access.patient).select_related("condition")
    return filter_confidential(found, access, "sensitivity")


def hidden_from(access: PatientAccess, evisit: EVisit) -> bool:
    return bool(evisit.sensitivity) and access.hides(evisit.sensitivity)


def require_patient_evisit(request: HttpRequest, evisit_id: Any) -> tuple[EVisit, PatientAccess]:
    """An e-visit for the patient or a proxy with the message scope, or the 404 (audited)."""
    evisit, access = require_object(
        request,
        EVisit.objects.select_related("condition", "condition__price_item"),
        scope=Scope.MESSAGE,
        pk=as_int(evisit_id),
    )
    if access.is_staff_access or hidden_from(access, evisit):
        refuse(request, evisit.patient, what="telehealth.evisit", lookup=str(evisit_id))
    return evisit, access


def for_review() -> models.QuerySet[EVisit]:
    """E-visits a review team may open: sent at some point, and not withdrawn before anyone took one."""
    return EVisit.objects.exclude(status__in=NEVER_FOR_REVIEW).exclude(
        status=EVisit.Status.WITHDRAWN, reviewer__isnull=True
    )


def require_review_evisit(request: HttpRequest, evisit_id: Any) -> tuple[EVisit, PatientAccess]:
    """An e-visit for a clinician of its condition's review team, or the 404 (audited)."""
    evisit = (
        for_review()
        .select_related("patient", "condition", "condition__review_team", "condition__price_item")
        .filter(pk=as_int(evisit_id))
        .first()
    )
    access = None
    if evisit is not None and roles.is_clinician(request.user):
        access = pool_access(request.user, evisit.patient, evisit.condition.review_team)
    if evisit is None or access is None:
        refuse(request, evisit.patient if evisit else None, what="telehealth.evisit", lookup=str(evisit_id))
    return evisit, access  # type: ignore[return-value]


def review_queue(user: Any) -> models.QuerySet[EVisit]:
    """E-visits sent to review teams the user is a clinician of (excluding their own and family's)."""
    from portal.patients.models import Patient, ProxyGrant

    own = Patient.objects.filter(
        models.Q(account=user)
        | models.Q(pk__in=ProxyGrant.objects.active().filter(grantee=user).values("patient"))
    )
    # One filter() call: the same team member must be this user, active and a clinician.
    return (
        for_review()
        .filter(
            condition__review_team__members__user=user,
            condition__review_team__members__active=True,
            condition__review_team__members__role__in=sorted(roles.CLINICAL_ROLES),
        )
        .exclude(patient__in=own)
        .select_related("patient", "condition", "reviewer")
    )
