"""Reading a FHIR R4 bundle (JSON) into staged rows, collecting every problem with its location.

Each entry is validated with `fhir.resources.R4B`; patients are matched by clinic number,
never created; references between entries are followed by fullUrl or "Type/id".
A resource's source id is, in order: its identifier in the portal's source-id system (so
an export imports back onto the same rows), its entry's fullUrl, or "Type/id".
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from pydantic import ValidationError

from portal.fhir import codes
from portal.fhir.mapping import CONTEXT_TYPES, INBOUND
from portal.fhir.mapping.common import Context
from portal.fhir.mapping.patients import identifier_values
from portal.fhir.mapping.results import ReportIn, StudyIn
from portal.fhir.report import Problem
from portal.fhir.staging import Relink, Row, Staged
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.records.models import Observation, ResultReport

BUNDLE_TYPES = ("transaction", "batch", "collection")
MAX_SOURCE_ID = 250


@dataclass
class Parsed:
    """One entry that passed validation."""

    index: int
    resource_type: str
    resource: Any
    full_url: str
    source_id: str


def read_bundle(data: bytes) -> tuple[Staged, list[Problem]]:
    problems: list[Problem] = []
    document = _load(data, problems)
    if document is None:
        return Staged(), problems
    parsed, ignored = _entries(document["entry"], problems)
    context = _context(parsed, problems)
    staged = _map(parsed, context)
    problems += context.problems
    if ignored:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(ignored.items()))
        staged.notes.append(f"Not stored (the portal keeps no such records): {kinds}.")
    return staged, problems


def _load(data: bytes, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        document = json.loads(data)
    except UnicodeDecodeError:
        problems.append(Problem("the file is not UTF-8 text"))
        return None
    except json.JSONDecodeError as error:
        problems.append(Problem(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"))
        return None
    except RecursionError:
        problems.append(Problem("the JSON is nested too deeply to be a FHIR bundle"))
        return None
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        problems.append(Problem("a FHIR import must be a Bundle resource", path="resourceType"))
        return None
    if document.get("type") not in BUNDLE_TYPES:
        expected = ", ".join(BUNDLE_TYPES)
        problems.append(Problem(f"bundle type must be one of: {expected}", resource="Bundle", path="type"))
    entries = document.get("entry", [])
    if not isinstance(entries, list) or not entries:
        problems.append(Problem("the bundle has no entries", resource="Bundle", path="entry"))
        return None
    try:
        Bundle.model_validate({key: value for key, value in document.items() if key != "entry"})
    except ValidationError as error:
        problems += [_validation(item, None, "Bundle") for item in error.errors()]
    return document


def _validation(item: Any, index: int | None, resource_type: str, prefix: str = "") -> Problem:
    path = prefix
    for part in item["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return Problem(str(item["msg"]), entry=index, resource=resource_type, path=path)


def _entries(entries: list[Any], problems: list[Problem]) -> tuple[list[Parsed], Counter[str]]:
    parsed: list[Parsed] = []
    ignored: Counter[str] = Counter()
    for index, entry in enumerate(entries):
        found = _entry(index, entry, problems)
        if isinstance(found, Parsed):
            parsed.append(found)
        elif found:
            ignored[found] += 1
    return parsed, ignored


def _entry(index: int, entry: Any, problems: list[Problem]) -> Parsed | str | None:
    """The validated entry; the type name of a valid resource the portal does not keep; or None."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        problems.append(Problem("the entry has no resource", entry=index, path="resource"))
        return None
    kind = str(resource.get("resourceType", ""))
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    if str(request.get("method", "")).upper() == "DELETE":
        problems.append(
            Problem("deleting is not supported", entry=index, resource=kind, path="request.method")
        )
    try:
        BundleEntry.model_validate({key: value for key, value in entry.items() if key != "resource"})
    except ValidationError as error:
        problems += [_validation(item, index, kind) for item in error.errors()]
    model = _model_class(kind)
    if model is None:
        problems.append(Problem(f"'{kind}' is not a FHIR R4 resource type", entry=index, path="resourceType"))
        return None
    if kind not in INBOUND and kind not in CONTEXT_TYPES:
        return kind
    try:
        validated = model.model_validate(resource)
    except ValidationError as error:
        problems += [_validation(item, index, kind) for item in error.errors()]
        return None
    return _parsed(index, kind, validated, str(entry.get("fullUrl") or ""), problems)


def _model_class(kind: str) -> Any:
    """The R4B model for a resource type name, or None; any text may arrive here, and the library imports by it."""
    if not kind.isascii() or not kind.isalpha():
        return None
    try:
        return get_fhir_model_class(kind)
    except Exception:
        return None


def _parsed(index: int, kind: str, resource: Any, full_url: str, problems: list[Problem]) -> Parsed | None:
    own = [
        str(item.value)
        for item in getattr(resource, "identifier", None) or []
        if item.system == codes.PORTAL_SOURCE_ID and item.value
    ]
    local = f"{kind}/{resource.id}" if resource.id else ""
    source_id = (own or [full_url or local])[0]
    if not source_id and kind in INBOUND:
        problems.append(
            Problem("needs a fullUrl or an id, to recognise it next time", entry=index, resource=kind)
        )
        return None
    if len(source_id) > MAX_SOURCE_ID:
        problems.append(
            Problem(f"fullUrl is longer than {MAX_SOURCE_ID} characters", entry=index, resource=kind)
        )
        return None
    return Parsed(index, kind, resource, full_url, source_id)


# Patients and references --------------------------------------------------------------------


def _context(parsed: list[Parsed], problems: list[Problem]) -> Context:
    entries: dict[str, tuple[str, Any]] = {}
    for item in parsed:
        for key in _keys(item):
            entries[key] = (item.source_id, item.resource)
    found = _patients(parsed)
    patients: dict[str, str] = {}
    for item in parsed:
        if item.resource_type == "Patient":
            number = next((value for value in identifier_values(item.resource) if value in found), "")
            if not number:
                tried = ", ".join(identifier_values(item.resource)) or "none"
                message = (
                    f"matches no patient of the clinic (identifiers: {tried}); patients are never created"
                )
                problems.append(Problem(message, entry=item.index, resource="Patient", path="identifier"))
            patients.update(dict.fromkeys(_keys(item), number))
    patients.update({f"identifier|{number}": number for number in found})
    zones = {number: ZoneInfo(patient.primary_campus.time_zone) for number, patient in found.items()}
    return Context(entries=entries, patients=patients, zones=zones, campuses=_campuses())


def _keys(item: Parsed) -> list[str]:
    keys = [item.full_url] if item.full_url else []
    if item.resource.id:
        keys.append(f"{item.resource_type}/{item.resource.id}")
    return keys


def _patients(parsed: list[Parsed]) -> dict[str, Patient]:
    """Every patient the file could mean, in one query: Patient identifiers and logical subject references."""
    numbers: set[str] = set()
    for item in parsed:
        if item.resource_type == "Patient":
            numbers.update(identifier_values(item.resource))
        subject = getattr(item.resource, "subject", None) or getattr(item.resource, "patient", None)
        identifier = getattr(subject, "identifier", None)
        if identifier is not None and identifier.value:
            numbers.add(str(identifier.value))
    rows = Patient.objects.filter(clinic_number__in=sorted(numbers)).select_related("primary_campus")
    return {patient.clinic_number: patient for patient in rows}


def _campuses() -> dict[str, int]:
    names: dict[str, int] = {}
    for campus_id, name, short_name in Campus.objects.values_list("id", "name", "short_name"):
        names[short_name.lower()] = campus_id
        names[name.lower()] = campus_id
    return names


# Mapping ------------------------------------------------------------------------------------


def _map(parsed: list[Parsed], ctx: Context) -> Staged:
    staged = Staged()
    reports: list[ReportIn] = []
    studies: dict[str, StudyIn] = {}
    for item in parsed:
        if item.resource_type not in INBOUND:
            continue
        ctx.entry, ctx.resource_type, ctx.clinic_number = item.index, item.resource_type, ""
        result = INBOUND[item.resource_type](item.resource, ctx, item.source_id)
        if isinstance(result, Row):
            staged.rows.append(result)
        elif isinstance(result, ReportIn):
            reports.append(result)
            staged.rows.append(result.row)
        elif isinstance(result, StudyIn):
            studies[result.source_id] = result
    _link_reports(reports, studies, staged, ctx)
    _refuse_duplicates(staged.rows, ctx)
    return staged


def _link_reports(reports: list[ReportIn], studies: dict[str, StudyIn], staged: Staged, ctx: Context) -> None:
    """Point observations at the report listing them; give imaging reports their study's facts."""
    observations = {
        (row.clinic_number, row.source_id): row for row in staged.rows if row.model is Observation
    }
    used: set[str] = set()
    for report in reports:
        row = report.row
        for source_id in report.studies:
            study = studies.get(source_id)
            if study is not None:
                used.add(source_id)
                for name in ("modality", "body_site", "study_uid"):
                    row.fields[name] = row.fields.get(name) or study.fields[name]
        for position, source_id in enumerate(report.results):
            observation = observations.get((row.clinic_number, source_id))
            if observation is None:
                staged.relinks.append(
                    Relink(row.clinic_number, row.source_id, source_id, position, row.where)
                )
                continue
            observation.links["report"] = row.source_id
            observation.fields["position"] = position
            observation.fields["sensitivity"] = observation.fields["sensitivity"] or row.fields["sensitivity"]
    for source_id, study in studies.items():
        if source_id not in used:
            _study_report(study, staged, ctx)


def _study_report(study: StudyIn, staged: Staged, ctx: Context) -> None:
    """An ImagingStudy no report names: a minimal imaging report, so its images have a home."""
    started = study.fields["effective_at"]
    if started is None:
        ctx.entry, ctx.resource_type = study.row_where.entry, "ImagingStudy"
        ctx.problem("started", "is required when no DiagnosticReport names the study")
        return
    fields = dict(study.fields) | {
        "category": ResultReport.Category.IMAGING,
        "name": study.name,
        "status": ResultReport.Status.PRELIMINARY,
        "issued_at": started,
    }
    staged.rows.append(Row(ResultReport, study.clinic_number, study.source_id, fields, where=study.row_where))
    staged.notes.append(
        f"Imaging study {study.fields['study_uid'] or study.source_id}: no report yet, so a "
        "preliminary imaging report was made for it."
    )


def _refuse_duplicates(rows: list[Row], ctx: Context) -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        key = (row.model.__name__, row.clinic_number, row.source_id)
        if key in seen:
            ctx.entry, ctx.resource_type = row.where.entry, row.where.resource
            ctx.problem("", f"'{row.source_id}' appears more than once in the file")
        seen.add(key)
