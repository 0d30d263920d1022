"""Test results on the patient side: the list, one report, its key images, and one test's trend.

Everything is read through `records/access.py`, so release rules (held results, a wait
for the clinician's review) and an adolescent's confidential categories apply on every
page; anything else gets the audited 404 a missing row gets. Lists cost a fixed number
of queries however many reports and values the patient has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, filter_confidential, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.access import get_visible, visible_observations, visible_reports
from portal.records.forms import ResultFilterForm
from portal.records.listing import dated_page
from portal.records.models import (
    Correction,
    ImagingImage,
    LabTestGuide,
    Observation,
    ResultReport,
    ResultSeen,
)
from portal.records.preferences import do_mark_result_seen
from portal.records.trend import MAX_POINTS, build_chart

# DICOM modality codes in words; a code not listed here is shown as it came.
MODALITIES = {
    "CR": _("X-ray"),
    "DX": _("X-ray"),
    "CT": _("CT scan"),
    "MR": _("MRI scan"),
    "US": _("Ultrasound"),
    "MG": _("Mammogram"),
    "NM": _("Nuclear medicine scan"),
    "PT": _("PET scan"),
    "XA": _("Angiogram"),
    "RF": _("Fluoroscopy"),
    "DXA": _("Bone density scan"),
}
REPORTS_PER_PAGE = 20
TREND_ROWS_PER_PAGE = 25
# Types a browser shows as a picture; anything else is sent as a download, never rendered.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


# Lists ---------------------------------------------------------------------------------------


@patient_page(scope=Scope.VIEW)
def results(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Every released result, newest first, grouped by report, with filters by date and type."""
    return _result_list(request, access, imaging_only=False)


@patient_page(scope=Scope.VIEW)
def imaging(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The results list narrowed to imaging reports (X-rays, scans, ultrasound)."""
    return _result_list(request, access, imaging_only=True)


def _result_list(request: HttpRequest, access: PatientAccess, *, imaging_only: bool) -> HttpResponse:
    form = ResultFilterForm(_filter_data(request), with_category=not imaging_only)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    reports = _filtered(visible_reports(access), filters)
    if imaging_only:
        reports = reports.filter(category=ResultReport.Category.IMAGING)
    page = dated_page(with_seen(reports, access), request.GET.get("after"), REPORTS_PER_PAGE, "effective_at")
    by_report = observations_by_report(access, page.items)
    record_read(
        request,
        access,
        "records.imaging_view" if imaging_only else "records.results_view",
        filters={name: str(value) for name, value in filters.items() if value},
    )
    context = {
        "access": access,
        "form": form,
        "imaging_only": imaging_only,
        "page": page,
        "rows": [(report, by_report.get(report.pk, [])) for report in page.items],
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "records/results.html", context)


def _filter_data(request: HttpRequest) -> dict[str, str] | None:
    # The cursor alone is not a filter: an unbound form shows no errors.
    data = {name: request.GET.get(name, "") for name in ("date_from", "date_to", "category")}
    return data if any(data.values()) else None


def _filtered(
    reports: models.QuerySet[ResultReport], filters: dict[str, Any]
) -> models.QuerySet[ResultReport]:
    if filters.get("date_from"):
        reports = reports.filter(effective_at__gte=_start_of(filters["date_from"]))
    if filters.get("date_to"):
        reports = reports.filter(effective_at__lt=_start_of(filters["date_to"] + dt.timedelta(days=1)))
    if filters.get("category"):
        reports = reports.filter(category=filters["category"])
    return reports


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def with_seen(reports: models.QuerySet[ResultReport], access: PatientAccess) -> models.QuerySet[ResultReport]:
    """Annotate `seen`: whether this user (not the patient in general) has opened each report."""
    return reports.annotate(seen=Exists(ResultSeen.objects.filter(user=access.user, report=OuterRef("pk"))))


def observations_by_report(
    access: PatientAccess, reports: list[ResultReport]
) -> dict[int, list[Observation]]:
    """The visible values of these reports, in one query, by report id.

    The reports come from `visible_reports`, so they are the patient's and released; only
    the values' own confidentiality is left to apply. Filtering by report alone lets the
    database use the (report, position) index instead of reading the patient's whole history.
    """
    if not reports:
        return {}
    in_reports = Observation.objects.filter(report__in=[report.pk for report in reports])
    rows = filter_confidential(in_reports, access, "sensitivity")
    grouped: dict[int, list[Observation]] = {}
    for row in rows.order_by("report_id", "position", "id"):
        grouped.setdefault(row.report_id or 0, []).append(row)
    return grouped


# One report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionLine:
    """One entry of an item's correction history, in words."""

    corrected_at: dt.datetime
    item: str
    previously: str
    reason: str


@patient_page(scope=Scope.VIEW)
def result(request: HttpRequest, access: PatientAccess, report_id: int) -> HttpResponse:
    """One report: every value with its range, flag and status, what the tests measure, and history."""
    report = get_visible(request, visible_reports(access), access, report_id)
    observations = list(visible_observations(access).filter(report=report).order_by("position", "id"))
    codes = {report.code, *(row.code for row in observations)} - {""}
    guides = {guide.code: guide for guide in LabTestGuide.objects.filter(code__in=codes)}
    is_imaging = report.category == ResultReport.Category.IMAGING
    first_view = do_mark_result_seen(Actor.from_request(request), access, report)
    record_read(request, access, "records.result_view", obj=report, first_view=first_view)
    context = {
        "access": access,
        "report": report,
        "report_guide": guides.get(report.code),
        "rows": [(row, guides.get(row.code), _trend_url(row)) for row in observations],
        "corrections": _corrections(access, report, observations),
        "is_imaging": is_imaging,
        "record_section": "imaging" if is_imaging else "results",
        "modality": MODALITIES.get(report.modality.upper(), report.modality),
        "images": list(ImagingImage.objects.filter(report=report)) if is_imaging else [],
    }
    return render(request, "records/result.html", context)


def _trend_url(row: Observation) -> str:
    """The link to the test's past values; none for a text value or a code that cannot be a URL part."""
    if row.value_number is None:
        return ""
    try:
        return reverse("records:trend", args=[row.code])
    except NoReverseMatch:
        return ""


def _corrections(
    access: PatientAccess, report: ResultReport, observations: list[Observation]
) -> list[CorrectionLine]:
    by_id = {row.pk: row for row in observations}
    rows = Correction.objects.filter(patient=access.patient).filter(
        Q(item_type="records.resultreport", item_id=report.pk)
        | Q(item_type="records.observation", item_id__in=list(by_id))
    )
    lines = []
    for correction in rows.order_by("-corrected_at", "-id"):
        observation = by_id.get(correction.item_id) if correction.item_type == "records.observation" else None
        item = observation.name if observation is not None else report.name
        previously = (
            _previous_value(observation, correction.previous) if observation else _fields(correction.previous)
        )
        lines.append(CorrectionLine(correction.corrected_at, item, previously, correction.reason))
    return lines


def _previous_value(current: Observation, previous: object) -> str:
    """What the value said before, worded like the value itself (value, range, flag)."""
    if not isinstance(previous, dict):
        return ""
    try:
        before = Observation(
            value_number=_decimal(previous.get("value_number")),
            value_text=str(previous.get("value_text") or ""),
            unit=str(previous.get("unit", current.unit) or ""),
            range_low=_decimal(previous.get("range_low")),
            range_high=_decimal(previous.get("range_high")),
            interpretation=str(previous.get("interpretation") or ""),
        )
    except (InvalidOperation, TypeError, ValueError):
        return _fields(previous)
    parts = [before.display_value]
    if before.display_range:
        parts.append(f"({before.display_range})")
    if before.interpretation:
        parts.append(str(before.get_interpretation_display()))
    return " ".join(part for part in parts if part)


def _decimal(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _fields(previous: object) -> str:
    if not isinstance(previous, dict):
        return ""
    return "; ".join(
        f"{name.replace('_', ' ')}: {value}" for name, value in previous.items() if value not in ("", None)
    )


@patient_page(scope=Scope.VIEW)
def image(request: HttpRequest, access: PatientAccess, report_id: int, image_id: int) -> HttpResponse:
    """A key image of an imaging report, under the same rules as the report itself."""
    report = get_visible(request, visible_reports(access), access, report_id)
    picture = ImagingImage.objects.filter(report=report, pk=image_id).first()
    if picture is None:
        refuse(request, access.patient, what="records.imagingimage", lookup=str(image_id))
    try:
        handle = picture.image.open("rb")  # type: ignore[union-attr]
    except (FileNotFoundError, ValueError):
        refuse(request, access.patient, what="records.imagingimage", lookup=f"{image_id} (file missing)")
    record_read(request, access, "records.image_view", obj=picture, report=report.pk)
    inline = picture.content_type in INLINE_IMAGE_TYPES  # type: ignore[union-attr]
    response = FileResponse(
        handle,
        content_type=picture.content_type if inline else "application/octet-stream",  # type: ignore[union-attr]
        as_attachment=not inline,
        filename=f"image-{report.pk}-{image_id}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        response["Content-Disposition"] = "inline"
    return response  # type: ignore[return-value]  # a streamed file; patient_page is typed for HttpResponse


# One test over time --------------------------------------------------------------------------


@patient_page(scope=Scope.VIEW)
def trend(request: HttpRequest, access: PatientAccess, code: str) -> HttpResponse:
    """Every past value of one test, newest first, with a chart of the latest ones."""
    history = visible_observations(access).filter(code=code)
    latest = list(history.order_by("-effective_at", "-id")[:MAX_POINTS])
    if not latest:
        refuse(request, access.patient, what="records.observation", lookup=f"trend {code}")
    page = dated_page(history, request.GET.get("after"), TREND_ROWS_PER_PAGE, "effective_at")
    name = latest[0].name
    record_read(request, access, "records.trend_view", code=code)
    context = {
        "access": access,
        "code": code,
        "name": name,
        "guide": LabTestGuide.objects.filter(code=code).first(),
        "chart": build_chart(name, latest),
        "max_points": MAX_POINTS,
        "page": page,
        "paged": bool(request.GET.get("after")),
    }
    return render(request, "records/trend.html", context)
