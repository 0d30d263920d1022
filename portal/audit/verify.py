"""Checking the audit chain for edited, inserted, reordered or deleted rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

BATCH = 2000


@dataclass(frozen=True)
class Problem:
    """One break in the chain, described for the person running the check."""

    sequence: int
    message: str


def verify_chain() -> tuple[int, list[Problem]]:
    """Walk the whole chain in order; return how many rows were read and every problem."""
    problems: list[Problem] = []
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    count = 0
    for event in _events_in_order():
        count += 1
        if event.sequence != expected_sequence:
            problems.append(
                Problem(expected_sequence, f"rows {expected_sequence}-{event.sequence - 1} are missing")
            )
        if event.previous_hash != previous_hash:
            problems.append(Problem(event.sequence, "does not link to the row before it"))
        if event.compute_hash() != event.row_hash:
            problems.append(Problem(event.sequence, "content was altered after it was written"))
        expected_sequence = event.sequence + 1
        previous_hash = event.row_hash
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_sequence != expected_sequence - 1 or head.last_hash != previous_hash):
        problems.append(Problem(head.last_sequence, "rows at the end of the chain are missing"))
    return count, problems


def _events_in_order() -> Iterator[AuditEvent]:
    # Keyset pages keep memory flat on a chain of millions of rows.
    after = 0
    while True:
        page = list(AuditEvent.objects.filter(sequence__gt=after).order_by("sequence")[:BATCH])
        if not page:
            return
        yield from page
        after = page[-1].sequence
