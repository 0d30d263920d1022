"""Whether the person behind an app's authorization may still share the patient's record."""

from __future__ import annotations

from portal.patients.access import PatientAccess, Role, decide
from portal.patients.models import Scope
from portal.smart.models import PatientAuthorization


def sharing_access(authorization: PatientAuthorization) -> PatientAccess | None:
    """The person's patient-side access (themself or a proxy, with the view scope), or None.

    Only the patient's side shares a record with an app: if the person's proxy grant has
    ended, a staff role they also hold (or break-glass) must not keep the app reading —
    staff access skips the release holds patients have.
    """
    if authorization.revoked_at is not None:
        return None
    access = decide(authorization.user, authorization.patient)
    if access is None or access.role not in (Role.SELF, Role.PROXY) or not access.allows(Scope.VIEW):
        return None
    return access
