"""Which members of a pool may decide what: the clinical rules on top of pool membership.

Being in the pool a request was sent to lets a member of staff read and answer its
conversation (`patients.access.pool_access`). Deciding the request is a clinical act:

- a refill is approved or declined by a prescriber (physician, nurse practitioner,
  physician assistant); a nurse may ask the patient a question about it;
- a referral is approved or denied by a prescriber; once approved, any clinician in the
  pool (a nurse too) may send it to a scheduling desk or mark it completed;
- refill and referral conversations only ever move to clinical care teams, so the
  prescribers who decide them keep them.

Schedulers, billing staff, interpreters and administrators decide neither, whatever
pool they are in.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from portal.messaging.models import Referral, RefillRequest, Thread
from portal.organization.models import CareTeam, Practitioner

PRESCRIBER_ROLES: frozenset[str] = frozenset(
    {
        Practitioner.Role.PHYSICIAN,
        Practitioner.Role.NURSE_PRACTITIONER,
        Practitioner.Role.PHYSICIAN_ASSISTANT,
    }
)
CLINICAL_ROLES: frozenset[str] = frozenset(Practitioner.CLINICAL_ROLES)


def staff_role(user: Any) -> str:
    """The role of the user's active practitioner record, or "" for anyone else."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return ""
    try:
        practitioner = user.practitioner
    except Practitioner.DoesNotExist:
        return ""
    return str(practitioner.role) if practitioner.active else ""


def prescribes(user: Any) -> bool:
    """May approve or decline refills and referrals."""
    return staff_role(user) in PRESCRIBER_ROLES


def is_clinician(user: Any) -> bool:
    """May ask about a refill and carry an approved referral forward."""
    return staff_role(user) in CLINICAL_ROLES


def holds_request(thread: Thread) -> bool:
    """Whether the thread is a refill request's or a referral's conversation."""
    return (
        RefillRequest.objects.filter(thread_id=thread.pk).exists()
        or Referral.objects.filter(thread_id=thread.pk).exists()
    )


def move_targets(thread: Thread, *, holds: bool | None = None) -> QuerySet[CareTeam]:
    """The pools a thread may move to: any other one, or only care teams for a request's thread."""
    pools = CareTeam.objects.exclude(pk=thread.pool_id).order_by("name", "pk")
    if holds_request(thread) if holds is None else holds:
        pools = pools.filter(kind=CareTeam.Kind.CLINICAL)
    return pools
