"""The access policy: whether a user may act for a patient, and with which scopes.

This module is the one place that decides. Views load patient-owned objects only
through the helpers here; anything the user may not see raises the same 404 as an
object that does not exist, and the refusal is audited.

Who gets what:
- the patient themself (their `Patient.account`): every scope;
- a proxy: the scopes of an active grant (started, not expired, not revoked);
- staff in a clinical care team assigned to the patient: their role's scopes;
- staff in an organisation-wide office (each campus's scheduling desk, the billing
  and international offices): that office's function, for every patient;
- staff with unexpired break-glass access: their role's scopes, flagged in the audit;
- anyone else, including unassigned staff and administrators: nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.log import Kind, Outcome, record
from portal.organization.models import CareTeam, Practitioner
from portal.patients.models import ALL_SCOPES, BreakGlassAccess, Patient, ProxyGrant, Scope

if TYPE_CHECKING:
    from portal.accounts.models import User

M = TypeVar("M", bound=models.Model)

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Practitioner.Role.PHYSICIAN: frozenset({Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE}),
    Practitioner.Role.NURSE_PRACTITIONER: frozenset({Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE}),
    Practitioner.Role.PHYSICIAN_ASSISTANT: frozenset({Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE}),
    Practitioner.Role.NURSE: frozenset({Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE}),
    Practitioner.Role.INTERPRETER: frozenset({Scope.VIEW, Scope.MESSAGE}),
    Practitioner.Role.SCHEDULER: frozenset({Scope.SCHEDULE}),
    Practitioner.Role.BILLING: frozenset({Scope.BILLING}),
    Practitioner.Role.ADMINISTRATOR: frozenset(),
}
OFFICE_SCOPES: dict[str, frozenset[str]] = {
    CareTeam.Kind.SCHEDULING_DESK: frozenset({Scope.SCHEDULE}),
    CareTeam.Kind.BILLING_OFFICE: frozenset({Scope.BILLING}),
    CareTeam.Kind.INTERNATIONAL_OFFICE: frozenset({Scope.SCHEDULE, Scope.MESSAGE}),
}


class Role(StrEnum):
    """How the user comes to act for the patient; recorded in every audit event."""

    SELF = "patient"
    PROXY = "proxy"
    STAFF = "staff"
    BREAK_GLASS = "break_glass"


@dataclass(frozen=True)
class PatientAccess:
    """A decided right of one user to act for one patient."""

    user: User
    patient: Patient
    role: Role
    scopes: frozenset[str]
    relationship: str = ""

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_staff_access(self) -> bool:
        return self.role in (Role.STAFF, Role.BREAK_GLASS)


def decide(user: User | Any, patient: Patient, at: dt.datetime | None = None) -> PatientAccess | None:
    """The user's access to the patient, or None. Pure decision: writes nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    at = at or timezone.now()
    if patient.account_id == user.pk:
        return PatientAccess(user, patient, Role.SELF, ALL_SCOPES)
    grant = ProxyGrant.objects.active(at).filter(grantee=user, patient=patient).first()
    if grant is not None and grant.scope_set:
        return PatientAccess(user, patient, Role.PROXY, grant.scope_set, grant.get_relationship_display())
    return _staff_access(user, patient, at)


def _staff_access(user: User, patient: Patient, at: dt.datetime) -> PatientAccess | None:
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    if practitioner is None:
        return None
    scopes = _office_scopes(practitioner)
    if _in_care_team(practitioner, patient, at.date()):
        scopes |= ROLE_SCOPES.get(practitioner.role, frozenset())
    if scopes:
        return PatientAccess(user, patient, Role.STAFF, scopes)
    if BreakGlassAccess.objects.filter(user=user, patient=patient, expires_at__gt=at).exists():
        return PatientAccess(user, patient, Role.BREAK_GLASS, ROLE_SCOPES.get(practitioner.role, frozenset()))
    return None


def _office_scopes(practitioner: Practitioner) -> frozenset[str]:
    kinds = practitioner.care_teams.filter(kind__in=OFFICE_SCOPES).values_list("kind", flat=True)
    scopes: frozenset[str] = frozenset()
    for kind in set(kinds):
        scopes |= OFFICE_SCOPES[kind]
    return scopes


def _active_care(on: dt.date) -> Q:
    return Q(care_relationships__starts_on__lte=on) & (
        Q(care_relationships__ends_on__isnull=True) | Q(care_relationships__ends_on__gte=on)
    )


def _in_care_team(practitioner: Practitioner, patient: Patient, on: dt.date) -> bool:
    return (
        Patient.objects.filter(pk=patient.pk)
        .filter(_active_care(on), care_relationships__care_team__members=practitioner)
        .exists()
    )


def portal_patients(user: User) -> list[PatientAccess]:
    """Everyone the user may act for on the patient side: themself first, then proxies."""
    if not user.is_authenticated:
        return []
    accesses = [
        PatientAccess(user, patient, Role.SELF, ALL_SCOPES)
        for patient in Patient.objects.filter(account=user)
    ]
    grants = (
        ProxyGrant.objects.active()
        .filter(grantee=user)
        .select_related("patient")
        .order_by("patient__given_name")
    )
    for grant in grants:
        if grant.scope_set and grant.patient.account_id != user.pk:
            accesses.append(
                PatientAccess(
                    user,
                    grant.patient,
                    Role.PROXY,
                    grant.scope_set,
                    grant.get_relationship_display(),
                )
            )
    return accesses


def staff_patients(user: User, at: dt.datetime | None = None) -> models.QuerySet[Patient]:
    """The patients a member of staff may reach without breaking glass."""
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    if practitioner is None:
        return Patient.objects.none()
    if _office_scopes(practitioner):
        return Patient.objects.all()
    on = (at or timezone.now()).date()
    cared_for = Patient.objects.filter(_active_care(on), care_relationships__care_team__members=practitioner)
    return Patient.objects.filter(pk__in=cared_for.values("pk"))


def patients_with_scope(user: User, scope: str) -> models.QuerySet[Patient]:
    """Patients the user may act for with `scope` on the patient side (self and proxy)."""
    if not user.is_authenticated:
        return Patient.objects.none()
    grants = ProxyGrant.objects.active().filter(grantee=user).only("patient_id", "scopes")
    proxied = [grant.patient_id for grant in grants if scope in grant.scope_set]
    return Patient.objects.filter(Q(account=user) | Q(pk__in=proxied))


def scoped(
    queryset: models.QuerySet[M], user: User, scope: str, patient_field: str = "patient"
) -> models.QuerySet[M]:
    """Restrict a list of patient-owned rows to patients the user may act for with `scope`."""
    return queryset.filter(**{f"{patient_field}__in": patients_with_scope(user, scope)})


def record_read(
    request: HttpRequest,
    access: PatientAccess,
    action: str,
    obj: models.Model | None = None,
    **detail: Any,
) -> None:
    """Audit one read of the patient's health data, as whoever the access says we are."""
    record(
        Actor.from_request(request),
        action,
        kind=Kind.READ,
        role=access.role.value,
        patient=access.patient,
        obj=obj,
        flagged=access.role is Role.BREAK_GLASS,
        detail=detail,
    )


def require_patient(request: HttpRequest, patient_id: Any, scope: str | None = Scope.VIEW) -> PatientAccess:
    """Load the patient named in a URL for the requesting user, or 404 (audited)."""
    patient = Patient.objects.filter(pk=_as_int(patient_id)).first()
    access = decide(request.user, patient) if patient is not None else None
    if access is None or (scope is not None and not access.allows(scope)):
        refuse(request, patient, what="patients.patient", lookup=str(patient_id))
    return access  # type: ignore[return-value]


def require_object(
    request: HttpRequest,
    queryset: models.QuerySet[M],
    scope: str | None = Scope.VIEW,
    patient_field: str = "patient",
    **lookup: Any,
) -> tuple[M, PatientAccess]:
    """Load a patient-owned object for the requesting user, or 404 (audited).

    The 404 is the same whether the object is missing or belongs to someone the user
    may not act for, so URLs cannot be probed for other patients' data.
    """
    try:
        obj = queryset.select_related(patient_field).filter(**lookup).first()
    except (ValueError, TypeError):
        obj = None
    patient = getattr(obj, patient_field) if obj is not None else None
    access = decide(request.user, patient) if patient is not None else None
    if obj is None or access is None or (scope is not None and not access.allows(scope)):
        refuse(request, patient, what=queryset.model._meta.label_lower, lookup=repr(lookup)[:200])
    return obj, access  # type: ignore[return-value]


def refuse(request: HttpRequest, patient: Patient | None, *, what: str, lookup: str) -> None:
    """Audit a refused lookup and raise the 404 that looks like a missing object."""
    if request.user.is_authenticated:
        record(
            Actor.from_request(request),
            "access.refused",
            kind=Kind.DENIED,
            patient=patient,
            outcome=Outcome.DENIED,
            detail={"object": what, "lookup": lookup, "path": request.path[:300]},
        )
    raise Http404


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
