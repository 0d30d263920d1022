"""Loading conversations for the user, through the one access policy.

Patient side: the patient and proxies with the message scope read and write their
threads (`require_thread`), except that a parent of a 12-17-year-old never sees a thread
in one of the clinic's confidential categories (`Thread.sensitivity`): it is left out of
every list, search and count, and its page is the same 404 as a missing one. Staff side: members of the pool a thread is addressed to
(`patients.access.pool_access`); a thread in another pool is the same 404 as a missing
one. Patient pages never carry staff rights, and staff pages never patient rights.
"""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from portal.accounts.models import User
from portal.messaging.confidential import hidden_from
from portal.messaging.models import Message, Thread
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, filter_confidential, pool_access, refuse, require_object
from portal.patients.models import ProxyGrant, Scope

Side = Literal["patient", "staff"]


def may_message(access: PatientAccess) -> bool:
    return access.allows(Scope.MESSAGE)


def patient_threads(access: PatientAccess) -> QuerySet[Thread]:
    """The patient's threads this access may see, with what lists show, for one query."""
    threads = Thread.objects.filter(patient=access.patient)
    return filter_confidential(threads, access, "sensitivity").select_related("pool", "care_team", "campus")


def unread_from_staff() -> Exists:
    """Annotation: whether a thread has a staff message the patient side has not opened yet.

    Only ever annotate threads from `patient_threads`: it looks inside one thread, and
    the thread decides who may see it.
    """
    return Exists(Message.objects.filter(thread=OuterRef("pk"), from_staff=True, read_at__isnull=True))


def unread_messages(access: PatientAccess) -> QuerySet[Message]:
    """Staff messages not yet opened on the patient side, in threads this access may see."""
    unread = Message.objects.filter(thread__patient=access.patient, from_staff=True, read_at__isnull=True)
    return filter_confidential(unread, access, "thread__sensitivity")


def staff_pools(user: User | Any) -> QuerySet[CareTeam]:
    """The pools whose inbox the user works: care teams, desks and offices they are an active member of."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_workforce", False):
        return CareTeam.objects.none()
    return CareTeam.objects.filter(members__user=user, members__active=True).distinct()


def pool_workers(thread: Thread) -> QuerySet[User]:
    """Active members of the thread's pool who may work it: not the patient, nor anyone
    holding a proxy grant for them (`pool_access` refuses those), in one query."""
    family = ProxyGrant.objects.active().filter(patient_id=thread.patient_id).values("grantee_id")
    members = User.objects.filter(
        practitioner__care_teams=thread.pool_id, practitioner__active=True, is_active=True
    ).exclude(pk__in=family)
    if thread.patient.account_id is not None:
        members = members.exclude(pk=thread.patient.account_id)
    return members.distinct()


def require_thread(
    request: HttpRequest, thread_id: Any, *, side: Side = "patient"
) -> tuple[Thread, PatientAccess]:
    """The thread for the requesting user on the given side, or the 404 a missing one gets (audited)."""
    threads = Thread.objects.select_related("pool", "care_team", "campus", "assigned_to")
    if side == "patient":
        thread, access = require_object(request, threads, scope=Scope.MESSAGE, pk=thread_id)
        if access.is_staff_access or hidden_from(access, thread):
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
