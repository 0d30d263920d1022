"""Loading appointments, requests and offers for the user, through the one access policy.

Seeing a patient's appointments needs the view or the schedule scope (a carer who may
read the record may also see when the visits are); booking, cancelling, requests,
offers and pre-check-in need the schedule scope. Desk staff work on their own
campuses' queues: `desk_campuses`.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from django.db import models
from django.http import HttpRequest

from portal.accounts.models import User
from portal.organization.models import Campus, CareTeam
from portal.patients.access import PatientAccess, refuse, require_object
from portal.patients.models import Scope
from portal.scheduling.models import Appointment

M = TypeVar("M", bound=models.Model)


def may_see_appointments(access: PatientAccess) -> bool:
    return access.allows(Scope.VIEW) or access.allows(Scope.SCHEDULE)


def may_manage_appointments(access: PatientAccess) -> bool:
    return access.allows(Scope.SCHEDULE)


def appointments_of(access: PatientAccess) -> models.QuerySet[Appointment]:
    """The patient's appointments with what every list shows, for one query."""
    return Appointment.objects.filter(patient=access.patient).select_related(
        "visit_type", "practitioner", "campus", "department"
    )


Side = Literal["patient", "staff", "either"]


def _check_side(request: HttpRequest, access: PatientAccess, side: Side, what: str, lookup: Any) -> None:
    """Patient pages are for the patient and their proxies; staff work through the desk.

    A member of staff who is also a patient reaches the patient pages, but their staff
    rights (a desk has the schedule scope for everyone) must not come with them there.
    """
    wrong = (side == "patient" and access.is_staff_access) or (side == "staff" and not access.is_staff_access)
    if wrong:
        refuse(request, access.patient, what=what, lookup=str(lookup)[:200])


def require_appointment(
    request: HttpRequest, appointment_id: Any, *, manage: bool = False, side: Side = "patient"
) -> tuple[Appointment, PatientAccess]:
    """The appointment for the requesting user, or the 404 a missing one gets (audited)."""
    appointment, access = require_object(
        request,
        Appointment.objects.select_related("visit_type", "practitioner", "campus", "department"),
        scope=Scope.SCHEDULE if manage else None,
        pk=appointment_id,
    )
    if not may_see_appointments(access):
        refuse(request, appointment.patient, what="scheduling.appointment", lookup=str(appointment_id))
    _check_side(request, access, side, "scheduling.appointment", appointment_id)
    return appointment, access


def require_patient_object(
    request: HttpRequest, queryset: models.QuerySet[M], object_id: Any, *, side: Side = "patient"
) -> tuple[M, PatientAccess]:
    """A request, offer or pre-check-in item of a patient, for someone with the schedule scope."""
    obj, access = require_object(request, queryset, scope=Scope.SCHEDULE, pk=object_id)
    _check_side(request, access, side, queryset.model._meta.label_lower, object_id)
    return obj, access


def staff_may_read_check_in(user: User | Any, access: PatientAccess, appointment: Appointment) -> bool:
    """The care team (view scope) or the desk of the visit's campus may read pre-check-in."""
    return access.allows(Scope.VIEW) or desk_campuses(user).filter(pk=appointment.campus_id).exists()


def desk_campuses(user: User | Any) -> models.QuerySet[Campus]:
    """Campuses whose scheduling desk the user works on."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_workforce", False):
        return Campus.objects.none()
    # Administrators are not a desk: the access policy gives them no patients, so a
    # desk page would show them a queue they could not open.
    return Campus.objects.filter(
        is_active=True,
        care_teams__kind=CareTeam.Kind.SCHEDULING_DESK,
        care_teams__members__user=user,
        care_teams__members__active=True,
    ).distinct()
