"""The patient side's own writes: a report opened (the "New" mark), and when results are shown."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, Role, record_write
from portal.records.models import ReleasePreference, ResultReport, ResultSeen


def waiting_categories(access: PatientAccess) -> set[str]:
    """The result types the patient asked to see only after their clinician's review."""
    return set(
        ReleasePreference.objects.filter(patient=access.patient, wait_for_review=True).values_list(
            "category", flat=True
        )
    )


@transaction.atomic
def do_mark_result_seen(actor: Actor, access: PatientAccess, report: ResultReport) -> bool:
    """Note that this user opened the report; True the first time.

    The mark is per user, so a proxy opening a report leaves it new for the patient. It
    writes no audit event of its own: the view audits the read that caused it (with
    `first_view`), and a second event for the same click would only repeat it.
    """
    if actor.user is None or report.patient_id != access.patient.pk:
        return False
    if ResultSeen.objects.filter(user=actor.user, report=report).exists():
        return False
    try:
        # A savepoint, so that two tabs opening the report at once cannot break the caller's transaction.
        with transaction.atomic():
            ResultSeen.objects.create(user=actor.user, report=report)
    except IntegrityError:
        return False
    return True


@transaction.atomic
def do_set_release_preferences(actor: Actor, access: PatientAccess, choices: dict[str, bool]) -> list[str]:
    """Store whether to wait for review, per result type; returns the types that changed.

    Only the patient decides this for themself: a proxy's choice would hide results from
    the patient, or show them before the patient wanted.
    """
    if access.role is not Role.SELF:
        raise PermissionDenied
    valid = set(ResultReport.Category.values)
    current = {
        preference.category: preference
        for preference in ReleasePreference.objects.select_for_update().filter(patient=access.patient)
    }
    changed: list[str] = []
    for category, wait in choices.items():
        if category not in valid:
            continue
        preference = current.get(category)
        if preference is None and not wait:
            continue  # no row means "at once", the default
        if preference is not None and preference.wait_for_review == wait:
            continue
        ReleasePreference.objects.update_or_create(
            patient=access.patient, category=category, defaults={"wait_for_review": wait}
        )
        changed.append(category)
    if changed:
        record_write(
            actor,
            access,
            "records.release_preferences",
            detail={"wait_for_review": {category: choices[category] for category in changed}},
        )
    return sorted(changed)
