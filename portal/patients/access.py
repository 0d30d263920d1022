"""The access policy: whether a user may act for a patient, and with which scopes.

This module is the one place that decides. Views load patient-owned objects only
through the helpers here; anything the user may not see raises the same 404 as an
object that does not exist, and the refusal is audited.

Who gets what:
- the patient themself (their `Patient.account`): every scope;
- a proxy: the scopes of an active grant (started, not expired, not revoked). A grant
  made while the patient was a child ends on their 18th birthday unless it is a legal
  representative's; a proxy of a 12-17-year-old does not see the clinic's confidential
  categories (`hidden_categories`); only the patient, a parent or legal representative
  of a child under 12, or an adult's legal representative manage the account
  (`manages_account`: contact details and the like);
- staff in a clinical care team assigned to the patient: their role's scopes;
- staff in an organisation-wide office (each campus's scheduling desk, the billing
  and international offices): that office's function, for every patient;
- staff with unexpired break-glass access: their role's scopes, flagged in the audit;
- staff in the pool a conversation is addressed to (`pool_access`): the message scope
  for that conversation, whatever else they may do for the patient;
- the clinician a video visit is booked with, and staff its host invited into it
  (`visit_access`): their role's scopes, for that visit;
- anyone else, including unassigned staff and administrators: nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
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
    # Record categories (lowercase slugs such as "mental-health") this user may not see;
    # capabilities filter their lists with `filter_confidential`.
    hidden_categories: frozenset[str] = frozenset()
    # May change the patient's contact details and preferences.
    manages_account: bool = False
    grant_id: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def hides(self, category: str) -> bool:
        return category.strip().lower() in self.hidden_categories

    @property
    def is_staff_access(self) -> bool:
        return self.role in (Role.STAFF, Role.BREAK_GLASS)


def decide(user: User | Any, patient: Patient, at: dt.datetime | None = None) -> PatientAccess | None:
    """The user's access to the patient, or None. Pure decision: writes nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    at = at or timezone.now()
    if patient.account_id == user.pk:
        return PatientAccess(user, patient, Role.SELF, ALL_SCOPES, manages_account=True)
    grant = ProxyGrant.objects.active(at).filter(grantee=user, patient=patient).first()
    proxy = _proxy_access(user, patient, grant, at) if grant is not None else None
    if proxy is not None:
        return proxy
    return _staff_access(user, patient, at)


def _proxy_access(user: User, patient: Patient, grant: ProxyGrant, at: dt.datetime) -> PatientAccess | None:
    """What an active grant gives its holder today: the one rule for every proxy."""
    if not grant.scope_set:
        return None
    age = patient.age_on(timezone.localdate(at))
    if age >= settings.PORTAL_AGE_OF_MAJORITY and _ends_at_majority(grant, patient):
        return None
    adolescent = settings.PORTAL_PROXY_CONFIDENTIAL_FROM_AGE <= age < settings.PORTAL_AGE_OF_MAJORITY
    return PatientAccess(
        user,
        patient,
        Role.PROXY,
        grant.scope_set,
        grant.get_relationship_display(),
        hidden_categories=frozenset(settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES)
        if adolescent
        else frozenset(),
        manages_account=_proxy_manages_account(grant, age),
        grant_id=grant.pk,
    )


def grant_in_force(grant: ProxyGrant, at: dt.datetime | None = None) -> bool:
    """Whether the policy honours this grant now; for listing grants (select its patient and grantee)."""
    at = at or timezone.now()
    active = (
        grant.revoked_at is None
        and grant.starts_at <= at
        and (grant.expires_at is None or grant.expires_at > at)
    )
    return active and _proxy_access(grant.grantee, grant.patient, grant, at) is not None


def _ends_at_majority(grant: ProxyGrant, patient: Patient) -> bool:
    """A grant made while the patient was a child (a parent's, say) ends when they come of age.

    An adult's legal representative keeps access; so does anyone the patient (or the
    clinic) appointed once the patient was already an adult.
    """
    if grant.relationship == ProxyGrant.Relationship.LEGAL_REPRESENTATIVE:
        return False
    return patient.age_on(timezone.localdate(grant.starts_at)) < settings.PORTAL_AGE_OF_MAJORITY


def _proxy_manages_account(grant: ProxyGrant, age: int) -> bool:
    # From 12 a child's contact details are theirs (and the clinic's) to change, so a
    # parent cannot redirect where confidential messages go.
    guardians = {ProxyGrant.Relationship.PARENT, ProxyGrant.Relationship.LEGAL_REPRESENTATIVE}
    if age < settings.PORTAL_PROXY_CONFIDENTIAL_FROM_AGE:
        return grant.relationship in guardians
    if age >= settings.PORTAL_AGE_OF_MAJORITY:
        return grant.relationship == ProxyGrant.Relationship.LEGAL_REPRESENTATIVE
    return False


def filter_confidential(
    queryset: models.QuerySet[M], access: PatientAccess, category_field: str = "category"
) -> models.QuerySet[M]:
    """Leave out rows in categories this access may not see (an adolescent's confidential care).

    Rows with no category stay: only a named confidential category hides a row.
    """
    if not access.hidden_categories:
        return queryset
    return queryset.exclude(**{f"{category_field}__in": sorted(access.hidden_categories)})


def visible_categories(access: PatientAccess, categories: Iterable[str]) -> list[str]:
    """The categories from `categories` this access may see, in their original order."""
    return [category for category in categories if not access.hides(category)]


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


def pool_access(user: User | Any, patient: Patient, pool: CareTeam) -> PatientAccess | None:
    """A member of the staff pool a conversation is addressed to may read and answer it.

    They get the message scope on top of what the policy otherwise gives them (a desk
    or the billing office has no clinical scopes; a clinical pool may receive a thread
    moved from elsewhere). Anyone outside the pool gets None, even if they care for the
    patient: they see the patient's record, not the pool's conversations. So does a
    member who is the patient or holds a proxy grant for them: nobody works their own
    (or their family's) conversations from the staff side, reads the internal notes
    about them, or decides their own requests.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if not pool.members.filter(user=user, active=True).exists() or is_on_patient_side(user, patient):
        return None
    found = _staff_access(user, patient, timezone.now())
    if found is not None and found.role is Role.STAFF:
        return PatientAccess(user, patient, Role.STAFF, found.scopes | {Scope.MESSAGE})
    return PatientAccess(user, patient, Role.STAFF, frozenset({Scope.MESSAGE}))


def visit_access(
    user: User | Any, patient: Patient, *, booked_with: int | None, invited: bool
) -> PatientAccess | None:
    """The clinician a video visit is booked with, and staff its host invited, may take part in it.

    `booked_with` is the visit's practitioner id; `invited` says the user holds an
    invitation to this visit. Like `pool_access`, the right is for that one visit: they
    get their role's scopes on top of what the policy otherwise gives them. Nobody on the
    patient's side (the patient, a proxy) takes a staff seat, and administrators, who
    are not clinicians, get nothing.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    if practitioner is None or is_on_patient_side(user, patient):
        return None
    if practitioner.pk != booked_with and not invited:
        return None
    role_scopes = ROLE_SCOPES.get(practitioner.role, frozenset())
    if not role_scopes & {Scope.VIEW}:
        return None
    found = _staff_access(user, patient, timezone.now())
    extra = found.scopes if found is not None and found.role is Role.STAFF else frozenset()
    return PatientAccess(user, patient, Role.STAFF, role_scopes | extra)


def is_on_patient_side(user: User | Any, patient: Patient) -> bool:
    """The user is the patient, or holds an unrevoked, unexpired proxy grant for them."""
    if patient.account_id == user.pk:
        return True
    return ProxyGrant.objects.active().filter(grantee=user, patient=patient).exists()


def portal_patients(user: User) -> list[PatientAccess]:
    """Everyone the user may act for on the patient side: themself first, then proxies."""
    if not user.is_authenticated or not user.is_active:
        return []
    accesses = [
        PatientAccess(user, patient, Role.SELF, ALL_SCOPES, manages_account=True)
        for patient in Patient.objects.filter(account=user)
    ]
    return accesses + [access for access in _proxied(user) if access.patient.account_id != user.pk]


def _proxied(user: User, at: dt.datetime | None = None) -> list[PatientAccess]:
    """The user's proxy accesses in one query, each decided by `_proxy_access`."""
    at = at or timezone.now()
    grants = (
        ProxyGrant.objects.active(at)
        .filter(grantee=user)
        .select_related("patient")
        .order_by("patient__given_name", "patient_id", "pk")
    )
    accesses: list[PatientAccess] = []
    seen: set[int] = set()
    for grant in grants:
        access = _proxy_access(user, grant.patient, grant, at)
        if access is not None and grant.patient_id not in seen:
            seen.add(grant.patient_id)
            accesses.append(access)
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


def serves_every_patient(user: User) -> bool:
    """True for staff of an organisation-wide office (scheduling desks, billing, international).

    They handle what belongs to no patient yet, such as a proxy request whose details
    matched nobody.
    """
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    return practitioner is not None and bool(_office_scopes(practitioner))


def patients_with_scope(user: User, scope: str) -> models.QuerySet[Patient]:
    """Patients the user may act for with `scope` on the patient side (self and proxy)."""
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    proxied = [access.patient.pk for access in _proxied(user) if access.allows(scope)]
    return Patient.objects.filter(Q(account=user) | Q(pk__in=proxied))


def scoped(
    queryset: models.QuerySet[M], user: User, scope: str, patient_field: str = "patient"
) -> models.QuerySet[M]:
    """Restrict a list of patient-owned rows to patients the user may act for with `scope`."""
    return queryset.filter(**{f"{patient_field}__in": patients_with_scope(user, scope)})


def record_write(actor: Actor, access: PatientAccess, action: str, **fields: Any) -> None:
    """Audit a write done for the patient, as whoever the access says we are (in the action's transaction)."""
    record(actor, action, kind=Kind.WRITE, role=access.role.value, patient=access.patient, **fields)


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
