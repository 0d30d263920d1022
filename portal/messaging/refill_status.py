"""What became of each medication's latest refill request, in one query for any number of them.

The medication list and the refill form both show, per medication, "Refill requested
on ...", "Refill approved on ..." or "Refill denied on ...", and whether another
request may be made. A correlated subquery picks each medication's newest request
item, so the page costs one query whether the patient takes two medications or fifty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from django.db import models
from django.db.models import OuterRef, Subquery

from portal.messaging.models import RefillItem, RefillRequest
from portal.patients.access import PatientAccess
from portal.patients.models import Scope
from portal.records.models import Medication


@dataclass(frozen=True)
class RefillState:
    """A medication's latest refill request, as the medication list shows it."""

    request_id: int
    status: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    thread_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status in RefillRequest.OPEN_STATUSES

    @property
    def on(self) -> dt.datetime:
        """When the status shown happened: the decision if there was one, else the request."""
        if not self.is_open and self.decided_at is not None:
            return self.decided_at
        return self.requested_at


def latest_refill_states(medication_ids: Iterable[int]) -> dict[int, RefillState]:
    """The newest refill request of each medication that has one, by medication id (one query)."""
    ids = sorted(set(medication_ids))
    if not ids:
        return {}
    newest = (
        RefillItem.objects.filter(medication_id=OuterRef("medication_id"))
        .order_by("-request__created_at", "-request_id")
        .values("pk")[:1]
    )
    rows = (
        RefillItem.objects.filter(medication_id__in=ids, pk=Subquery(newest))
        .values_list(
            "medication_id",
            "request_id",
            "request__status",
            "request__created_at",
            "request__decided_at",
            "request__thread_id",
        )
        .order_by()
    )
    return {
        medication_id: RefillState(request_id, status, requested_at, decided_at, thread_id)
        for medication_id, request_id, status, requested_at, decided_at, thread_id in rows
    }


def may_request_refills(access: PatientAccess) -> bool:
    """Asking for a refill is a message to the care team about the record's medications."""
    return not access.is_staff_access and access.allows(Scope.MESSAGE) and access.allows(Scope.VIEW)


def refillable(medication: Medication, state: RefillState | None) -> bool:
    """Whether a new request may include this medication (the form and the action both ask)."""
    return medication.is_active and medication.renewable_online and (state is None or not state.is_open)


def attach_refill_states(rows: Sequence[models.Model], access: PatientAccess) -> None:
    """Give each medication, for the medication list's template: `refill` (its latest request
    or None), `refill_link` (whether to offer "Request a refill") and `refill_pages` (whether
    the reader may open the refill pages, which need the message scope)."""
    medications = [cast(Medication, row) for row in rows]
    states = latest_refill_states(medication.pk for medication in medications)
    allowed = may_request_refills(access)
    pages = not access.is_staff_access and access.allows(Scope.MESSAGE)
    for medication in medications:
        state = states.get(medication.pk)
        medication.refill = state  # type: ignore[attr-defined]
        medication.refill_link = allowed and refillable(medication, state)  # type: ignore[attr-defined]
        medication.refill_pages = pages  # type: ignore[attr-defined]
