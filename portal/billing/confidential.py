"""Adolescent confidentiality on bills: a parent sees what is owed, not what the service was.

A billed service carries the confidential category of the care it was for
(`ServiceLine.sensitivity`, copied to its ledger entries). When the access hides that
category (a parent of a 12-17-year-old, see `patients/access.py`), the line keeps its
amounts, so every total still adds up, but loses its code, description and visit.
Masking changes the loaded objects only, never the database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from portal.billing.models import Estimate, LedgerEntry, ServiceLine
from portal.patients.access import PatientAccess


def hidden(sensitivity: str, access: PatientAccess) -> bool:
    return bool(sensitivity) and access.hides(sensitivity)


def mask_lines(lines: Iterable[ServiceLine], access: PatientAccess) -> None:
    for line in lines:
        if hidden(line.sensitivity, access):
            line.code = ""
            line.description = _("Confidential service")
            line.visit_label = ""
            line.appointment_id = None


def mask_entries(entries: Iterable[LedgerEntry], access: PatientAccess) -> None:
    for entry in entries:
        if hidden(entry.sensitivity, access):
            entry.code = ""
            entry.description = _("Confidential service")


def mask_estimate(estimate: Estimate, access: PatientAccess) -> None:
    """A saved estimate's confidential services keep their price, not their name."""
    if any(hidden(item.get("sensitivity", ""), access) for item in estimate.items):
        estimate.items = [
            {**item, "code": "", "description": _("Confidential service")}
            if hidden(item.get("sensitivity", ""), access)
            else item
            for item in estimate.items
        ]
        estimate.visit_type = None
