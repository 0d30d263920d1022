"""Who works the billing office's side."""

from __future__ import annotations

from typing import Any

from portal.organization.models import CareTeam, Practitioner


def works_in_billing(user: Any) -> bool:
    """An active member of the billing office, or a billing clerk (who bills their care team's patients)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_workforce", False):
        return False
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    if practitioner is None:
        return False
    return (
        practitioner.role == Practitioner.Role.BILLING
        or practitioner.care_teams.filter(kind=CareTeam.Kind.BILLING_OFFICE).exists()
    )
