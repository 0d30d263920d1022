"""Which record rows a `PatientAccess` may see: the record's side of the access policy.

Every list and detail page of the record starts from these querysets, never from a
model manager, so three rules hold everywhere:
- only the patient's own rows;
- an adolescent's confidential categories never reach a parent (`filter_confidential`
  on `sensitivity`);
- on the patient side, results appear once released (`available_at` has passed) and,
  where the patient asked to wait for their clinician in that category, once reviewed.
  Staff caring for the patient see everything, held or not.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from portal.patients.access import PatientAccess, filter_confidential, refuse
from portal.records.models import Observation, RecordItem, ReleasePreference, ResultReport

R = TypeVar("R", bound=RecordItem)


def visible(model: type[R], access: PatientAccess) -> models.QuerySet[R]:
    """The rows of one record model this access may see (not results: use `visible_reports`)."""
    rows = model._default_manager.filter(patient=access.patient)
    return filter_confidential(rows, access, "sensitivity")


def visible_reports(access: PatientAccess) -> models.QuerySet[ResultReport]:
    """Result reports this access may see, after the release rules."""
    reports = filter_confidential(ResultReport.objects.filter(patient=access.patient), access, "sensitivity")
    if access.is_staff_access:
        return reports
    return reports.filter(released_to_patient(access))


def released_to_patient(access: PatientAccess, prefix: str = "") -> Q:
    """The release rule as a filter on ResultReport (or, with `prefix="report__"`, on its rows).

    One query fetches the categories the patient asked to see only after review.
    """
    waits = list(
        ReleasePreference.objects.filter(patient=access.patient, wait_for_review=True).values_list(
            "category", flat=True
        )
    )
    rule = Q(**{f"{prefix}available_at__lte": timezone.now()})
    if waits:
        rule &= ~Q(**{f"{prefix}category__in": waits, f"{prefix}reviewed_at__isnull": True})
    return rule


def visible_observations(access: PatientAccess) -> models.QuerySet[Observation]:
    """Observations this access may see: those in a visible report, and stand-alone ones (vitals)."""
    rows = filter_confidential(Observation.objects.filter(patient=access.patient), access, "sensitivity")
    if access.is_staff_access:
        return rows
    report_rule = released_to_patient(access, prefix="report__")
    if access.hidden_categories:
        report_rule &= ~Q(report__sensitivity__in=sorted(access.hidden_categories))
    return rows.filter(Q(report__isnull=True) | report_rule)


def get_visible(request: HttpRequest, queryset: models.QuerySet[R], access: PatientAccess, pk: object) -> R:
    """One row from an already-scoped queryset, or the audited 404 that a missing row gets."""
    try:
        row = queryset.filter(pk=int(str(pk))).first()
    except (TypeError, ValueError):
        row = None
    if row is None:
        refuse(request, access.patient, what=queryset.model._meta.label_lower, lookup=str(pk)[:50])
    return row  # type: ignore[return-value]
