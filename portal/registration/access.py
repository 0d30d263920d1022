"""Who on staff may see which access requests, and may issue codes for which patients.

Access requests are not yet patients' records, so the patient policy does not cover
them: they belong to the office that handles them. International requests go to the
members of the International office; US requests to the scheduling desk of the campus
the requester was seen at. Issuing or cancelling a code needs ordinary (not
break-glass) staff access to the patient under `portal.patients.access`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.http import HttpRequest

from portal.accounts.models import User, signed_in_user
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import PatientAccess, Role, refuse, require_object, require_patient
from portal.registration.models import AccessRequest, ActivationCode


@dataclass(frozen=True)
class Desks:
    """The request queues one member of staff works."""

    international: bool
    campus_ids: frozenset[int]

    @property
    def any(self) -> bool:
        return self.international or bool(self.campus_ids)


def desks_of(user: User) -> Desks:
    # The reverse accessor is usually cached already by `is_workforce`.
    practitioner = getattr(user, "practitioner", None)
    if not isinstance(practitioner, Practitioner) or not practitioner.active:
        return Desks(False, frozenset())
    teams = list(
        practitioner.care_teams.filter(
            kind__in=[CareTeam.Kind.SCHEDULING_DESK, CareTeam.Kind.INTERNATIONAL_OFFICE]
        ).values_list("kind", "campus_id")
    )
    international = any(kind == CareTeam.Kind.INTERNATIONAL_OFFICE for kind, _campus in teams)
    campuses = frozenset(
        campus for kind, campus in teams if kind == CareTeam.Kind.SCHEDULING_DESK and campus is not None
    )
    return Desks(international, campuses)


def visible_requests(user: User, desks: Desks | None = None) -> models.QuerySet[AccessRequest]:
    desks = desks or desks_of(user)
    if not desks.any:
        return AccessRequest.objects.none()
    visible = Q(pk__in=[])
    if desks.international:
        visible |= Q(kind=AccessRequest.Kind.INTERNATIONAL)
    if desks.campus_ids:
        visible |= Q(kind=AccessRequest.Kind.US, campus_id__in=desks.campus_ids)
    return AccessRequest.objects.filter(visible)


def require_access_request(request: HttpRequest, request_id: int) -> AccessRequest:
    """The request a URL names, if the user's desks handle it; else the audited 404."""
    found = (
        visible_requests(signed_in_user(request))
        .select_related("campus", "matched_patient__primary_campus", "activation_code", "handled_by")
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        refuse(request, None, what="registration.accessrequest", lookup=str(request_id))
    return found  # type: ignore[return-value]


def _is_code_issuer(access: PatientAccess) -> bool:
    return access.role is Role.STAFF and bool(access.scopes)


def require_code_patient(request: HttpRequest, patient_id: int | str) -> PatientAccess:
    """A patient the member of staff may issue activation codes for, or the audited 404."""
    access = require_patient(request, patient_id, scope=None)
    if not _is_code_issuer(access):
        refuse(request, access.patient, what="patients.patient", lookup=str(patient_id))
    return access


def require_code(request: HttpRequest, code_id: int) -> tuple[ActivationCode, PatientAccess]:
    code, access = require_object(request, ActivationCode.objects.all(), scope=None, pk=code_id)
    if not _is_code_issuer(access):
        refuse(request, access.patient, what="registration.activationcode", lookup=str(code_id))
    return code, access
