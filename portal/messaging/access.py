"""Loading conversations for the user, through the one access policy.

Patient side: the patient and proxies with the message scope read and write their
threads (`require_thread`). Staff side: members of the pool a thread is addressed to
(`patients.access.pool_access`); a thread in another pool is the same 404 as a missing
one. Patient pages never carry staff rights, and staff pages never patient rights.
"""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest

from portal.accounts.models import User
from portal.messaging.models import Thread
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, pool_access, refuse, require_object
from portal.patients.models import Scope

Side = Literal["patient", "staff"]


def may_message(access: PatientAccess) -> bool:
    return access.allows(Scope.MESSAGE)


def patient_threads(access: PatientAccess) -> QuerySet[Thread]:
    """The patient's threads with what lists show, for one query."""
    return Thread.objects.filter(patient=access.patient).select_related("pool", "care_team", "campus")


def staff_pools(user: User | Any) -> QuerySet[CareTeam]:
    """The pools whose inbox the user works: care teams, desks and offices they are an active member of."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_workforce", False):
        return CareTeam.objects.none()
    return CareTeam.objects.filter(members__user=user, members__active=True).distinct()


def require_thread(
    request: HttpRequest, thread_id: Any, *, side: Side = "patient"
) -> tuple[Thread, PatientAccess]:
    """The thread for the requesting user on the given side, or the 404 a missing one gets (audited)."""
    threads = Thread.objects.select_related("pool", "care_team", "campus", "assigned_to")
    if side == "patient":
        thread, access = require_object(request, threads, scope=Scope.MESSAGE, pk=thread_id)
        if access.is_staff_access:
            refuse(request, thread.patient, what="messaging.thread", lookup=str(thread_id)[:200])
        return thread, access
    thread, staff_access = _pool_thread(request, threads, thread_id)
    return thread, staff_access


def _pool_thread(
    request: HttpRequest, threads: QuerySet[Thread], thread_id: Any
) -> tuple[Thread, PatientAccess]:
    try:
        thread = threads.select_related("patient").filter(pk=thread_id).first()
    except (ValueError, TypeError):
        thread = None
    access = pool_access(request.user, thread.patient, thread.pool) if thread is not None else None
    if thread is None or access is None:
        refuse(
            request, thread.patient if thread else None, what="messaging.thread", lookup=str(thread_id)[:200]
        )
    return thread, access  # type: ignore[return-value]
