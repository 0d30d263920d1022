"""Insurance from the billing side: the coverages on file, adding or replacing one, and claims.

A coverage is stored by the same code as at pre-check-in (`scheduling.coverage.store_coverage`),
card photos checked the same way; it waits for the billing office to verify it. Screens
show member IDs and group numbers only by their last four characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from portal.audit.actor import Actor
from portal.billing.confidential import mask_lines
from portal.billing.models import Claim, CoverageBenefits, ServiceLine
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Coverage
from portal.scheduling.coverage import CardImage, store_coverage

# On file: everything but the coverages a newer one replaced.
ON_FILE = (Coverage.Status.PENDING, Coverage.Status.VERIFIED, Coverage.Status.REJECTED)


class InsuranceRefused(Exception):
    """The coverage to replace is no longer on file (replaced in another tab, say)."""


def masked(value: str) -> str:
    """An identifier as screens show it: only the last four characters (as `Coverage.masked_member_id`)."""
    if not value:
        return ""
    return f"••••{value[-4:]}" if len(value) > 4 else "••••"


@dataclass(frozen=True)
class CoverageRow:
    """A coverage as the insurance page shows it: identifiers masked, benefits if entered."""

    coverage: Coverage
    member_id: str
    group_number: str
    benefits: CoverageBenefits | None


def coverages_on_file() -> QuerySet[Coverage]:
    """Coverages that are not replaced (anyone's: narrow by patient, or load through the policy)."""
    return Coverage.objects.filter(status__in=[status.value for status in ON_FILE])


def on_file(access: PatientAccess) -> QuerySet[Coverage]:
    """The patient's coverages that are not replaced."""
    return coverages_on_file().filter(patient=access.patient)


def coverage_rows(access: PatientAccess) -> list[CoverageRow]:
    """Coverages on file with their benefits, in one query."""
    coverages = on_file(access).select_related("benefits").order_by("priority", "-created_at", "-id")
    return [
        CoverageRow(
            coverage,
            coverage.masked_member_id,
            masked(coverage.group_number),
            getattr(coverage, "benefits", None),
        )
        for coverage in coverages
    ]


def lines_by_claim(claims: list[Claim], access: PatientAccess) -> dict[int, list[ServiceLine]]:
    """The service lines of a page of claims, in one query; confidential ones masked for this access."""
    grouped: dict[int, list[ServiceLine]] = {claim.pk: [] for claim in claims}
    lines = list(ServiceLine.objects.filter(claim__in=claims).order_by("service_date", "id"))
    mask_lines(lines, access)
    for line in lines:
        if line.claim_id is not None:
            grouped[line.claim_id].append(line)
    return grouped


def do_add_coverage(
    actor: Actor,
    access: PatientAccess,
    details: dict[str, Any],
    front: CardImage,
    back: CardImage | None,
    replaces: Coverage | None = None,
) -> Coverage:
    """A new coverage waiting for the clinic to verify it; the one it replaces is no longer used.

    The replaced coverage is re-read under a lock, so two replacements of one card (two
    tabs) store one new coverage, and the second is refused.
    """
    with transaction.atomic():
        if replaces is not None:
            current = on_file(access).select_for_update().filter(pk=replaces.pk).first()
            if current is None:
                raise InsuranceRefused
            replaces = current
        coverage = store_coverage(actor, access, details, front, back, replaces)
        record_write(
            actor,
            access,
            "billing.coverage_add",
            obj=coverage,
            detail={"replaces": replaces.pk if replaces is not None else None},
        )
    return coverage
