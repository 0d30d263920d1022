"""Which rows of each section fall in a date range: one rule for the PDF, the print view,
share links and the FHIR download, all starting from `records/access.py`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from django.db import models
from django.db.models import Q

from portal.patients.access import PatientAccess
from portal.records.access import visible, visible_observations, visible_reports
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    RecordItem,
    ResultReport,
)

R = TypeVar("R", bound=RecordItem)


@dataclass(frozen=True)
class DateRange:
    """From and to, both included; None leaves that end open."""

    start: dt.date | None = None
    end: dt.date | None = None

    def within(self, field_name: str, is_datetime: bool) -> Q:
        """Rows whose date lies in the range, in the current time zone."""
        lookup = f"{field_name}__date" if is_datetime else field_name
        rule = Q()
        if self.start:
            rule &= Q(**{f"{lookup}__gte": self.start})
        if self.end:
            rule &= Q(**{f"{lookup}__lte": self.end})
        return rule

    def current(self, start: str, end: str) -> Q:
        """Rows (medications, problems) that were current at any time in the range."""
        rule = Q()
        if self.end:
            rule &= Q(**{f"{start}__isnull": True}) | Q(**{f"{start}__lte": self.end})
        if self.start:
            rule &= Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": self.start})
        return rule


# Each section's model, its date field, and whether that is a datetime.
DATED: dict[type[RecordItem], tuple[str, bool]] = {
    ClinicalNote: ("written_at", True),
    Allergy: ("recorded_on", False),
    Immunization: ("given_on", False),
    Encounter: ("started_at", True),
    Procedure: ("performed_at", True),
    Document: ("dated_on", False),
}
# Models whose rows were current for a time: the fields that open and close it.
CURRENT: dict[type[RecordItem], tuple[str, str]] = {
    Medication: ("started_on", "ended_on"),
    Problem: ("onset_on", "abated_on"),
}


def rows_in(access: PatientAccess, model: type[R], dates: DateRange) -> models.QuerySet[R]:
    """The visible rows of a non-results section in the range (unordered)."""
    if model in CURRENT:
        start, end = CURRENT[model]
        return visible(model, access).filter(dates.current(start, end))
    field_name, is_datetime = DATED[model]
    return visible(model, access).filter(dates.within(field_name, is_datetime))


def reports_in(access: PatientAccess, dates: DateRange, imaging: bool) -> models.QuerySet[ResultReport]:
    """Visible result reports in the range: imaging studies, or every other kind."""
    reports = visible_reports(access).filter(dates.within("effective_at", True))
    if imaging:
        return reports.filter(category=ResultReport.Category.IMAGING)
    return reports.exclude(category=ResultReport.Category.IMAGING)


def observations_in(
    access: PatientAccess, reports: models.QuerySet[ResultReport], dates: DateRange, standalone: bool
) -> models.QuerySet[Observation]:
    """Visible values of these reports, plus (with `standalone`) measurements outside any report in the range."""
    rule = Q(report__in=reports.values("pk"))
    if standalone:
        rule |= Q(report__isnull=True) & dates.within("effective_at", True)
    return visible_observations(access).filter(rule)
