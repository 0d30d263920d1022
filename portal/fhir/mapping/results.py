"""Observation, DiagnosticReport and ImagingStudy <-> ResultReport and Observation.

Imaging reports: `DiagnosticReport.conclusion` is the radiologist's impression; the
findings are a text/plain `presentedForm` (any title but "Comment"), and a text/plain
`presentedForm` titled "Comment" is the report's comment. The study (modality, body part,
study UID) comes from the `ImagingStudy` the report names in `imagingStudy`.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.mapping.common import (
    Context,
    clean,
    code_of,
    concept,
    display_of,
    extension_value,
    extensions,
    first_code,
    has_code,
    meta,
    moment_text,
    name_of,
    note_list,
    notes_of,
    number_json,
    sensitivity_of,
)
from portal.fhir.mapping.outbound import EXPORT_NAMESPACE, Out, identifiers, resource_id
from portal.fhir.staging import Row
from portal.records.models import Observation, ResultReport

BLOOD_PRESSURE = "85354-9"
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
PRESSURE = re.compile(r"^(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
COMMENT_TITLE = "Comment"
FINDINGS_TITLE = "Findings"


# Inbound ------------------------------------------------------------------------------------


def observation_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.subject, "subject")
    status = ctx.status(resource.status, codes.OBSERVATION_STATUS, "status")
    _system, code, _display = code_of(resource.code, [codes.LOINC])
    if not code:
        ctx.problem("code", "needs a coding with a code (LOINC for labs and vital signs)")
    effective = ctx.moment(
        resource.effectiveDateTime or _start(resource.effectivePeriod) or resource.effectiveInstant,
        "effectiveDateTime",
    )
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "category": _observation_category(resource.category),
        "code": ctx.text(code, "code", 40),
        "name": ctx.text(name_of(resource.code), "code.text", 200, required=True),
        "status": status,
        "effective_at": effective,
        "interpretation": _interpretation(resource.interpretation),
        "note": notes_of(resource.note),
    }
    fields |= _value(resource, ctx) | _range(resource.referenceRange, ctx)
    if number is None or status is None or effective is None:
        return None
    return Row(Observation, number, source_id, fields, where=ctx.where)


def _start(period: Any) -> Any:
    return period.start if period is not None else None


def _observation_category(categories: Any) -> str:
    for choice in ("laboratory", "vital-signs", "imaging"):
        if has_code(categories or [], codes.OBSERVATION_CATEGORY, choice):
            return choice
    return Observation.Category.OTHER if categories else Observation.Category.LABORATORY


def _interpretation(interpretations: Any) -> str:
    for concept_ in interpretations or []:
        for coding in concept_.coding or []:
            code = str(coding.code or "").upper()
            if code in codes.INTERPRETATIONS:
                return code
            if code in codes.INTERPRETATION_ALIASES:
                return codes.INTERPRETATION_ALIASES[code]
    return ""


def _value(resource: Any, ctx: Context) -> dict[str, Any]:
    quantity = resource.valueQuantity
    if quantity is not None:
        unit = ctx.text(quantity.unit or quantity.code, "valueQuantity.unit", 40)
        if quantity.comparator:
            text = f"{quantity.comparator}{quantity.value} {unit}".strip()
            return {"value_number": None, "value_text": text, "unit": unit}
        return {
            "value_number": ctx.number(quantity.value, "valueQuantity.value"),
            "value_text": "",
            "unit": unit,
        }
    if resource.valueInteger is not None:
        return {
            "value_number": ctx.number(resource.valueInteger, "valueInteger"),
            "value_text": "",
            "unit": "",
        }
    if resource.valueString is not None:
        return {
            "value_number": None,
            "value_text": ctx.text(resource.valueString, "valueString", 500),
            "unit": "",
        }
    if resource.valueCodeableConcept is not None:
        text = ctx.text(name_of(resource.valueCodeableConcept), "valueCodeableConcept", 500)
        return {"value_number": None, "value_text": text, "unit": ""}
    if resource.component:
        return _pressure(resource.component, ctx)
    absent = name_of(resource.dataAbsentReason)
    return {"value_number": None, "value_text": ctx.text(absent, "dataAbsentReason", 500), "unit": ""}


def _pressure(components: Any, ctx: Context) -> dict[str, Any]:
    """A blood pressure's systolic and diastolic components as one "120/80 mmHg" value."""
    values = {}
    unit = ""
    for component in components:
        code = first_code([component.code], codes.LOINC)
        if component.valueQuantity is not None and code in (SYSTOLIC, DIASTOLIC):
            values[code] = ctx.number(component.valueQuantity.value, "component.valueQuantity.value")
            unit = str(component.valueQuantity.unit or component.valueQuantity.code or "")
    if values.get(SYSTOLIC) is None or values.get(DIASTOLIC) is None:
        ctx.problem("component", "a blood pressure needs systolic and diastolic values")
        return {"value_number": None, "value_text": "", "unit": ""}
    text = f"{_plain(values[SYSTOLIC])}/{_plain(values[DIASTOLIC])}"
    return {
        "value_number": None,
        "value_text": text,
        "unit": ctx.text(unit, "component.valueQuantity.unit", 40),
    }


def _plain(value: Any) -> str:
    return format(value.normalize(), "f")


def _range(ranges: Any, ctx: Context) -> dict[str, Any]:
    if not ranges:
        return {"range_low": None, "range_high": None, "range_text": ""}
    first = ranges[0]
    return {
        "range_low": ctx.number(first.low.value, "referenceRange.low") if first.low else None,
        "range_high": ctx.number(first.high.value, "referenceRange.high") if first.high else None,
        "range_text": ctx.text(first.text, "referenceRange.text", 100),
    }


@dataclass
class ReportIn:
    """A DiagnosticReport's row, plus the observations and studies it names, linked after all entries are read."""

    row: Row
    results: list[str] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)


def report_in(resource: Any, ctx: Context, source_id: str) -> ReportIn | None:
    number = ctx.patient(resource.subject, "subject")
    status = ctx.status(resource.status, codes.REPORT_STATUS, "status")
    effective = ctx.moment(
        resource.effectiveDateTime or _start(resource.effectivePeriod) or resource.issued, "effectiveDateTime"
    )
    issued = ctx.moment(resource.issued, "issued", required=False) or effective
    _system, code, _display = code_of(resource.code, [codes.LOINC])
    category = _report_category(resource)
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "category": category,
        "code": ctx.text(code, "code", 40),
        "name": ctx.text(name_of(resource.code), "code.text", 200, required=True),
        "status": status,
        "effective_at": effective,
        "issued_at": issued,
        "performer": ctx.text(_party(resource.performer, ctx), "performer", 200),
        "ordered_by_name": ctx.text(_ordered_by(resource, ctx), "basedOn", 200),
    }
    fields |= _narrative(resource, category, ctx)
    links = {"encounter": ctx.source_of(resource.encounter)} if resource.encounter else {}
    if number is None or status is None or effective is None:
        return None
    row = Row(ResultReport, number, source_id, fields, where=ctx.where, links=links)
    results = [ctx.source_of(reference) for reference in resource.result or []]
    studies = [ctx.source_of(reference) for reference in resource.imagingStudy or []]
    return ReportIn(row, results, studies)


def _report_category(resource: Any) -> str:
    categories = resource.category or []
    section = first_code(categories, codes.V2_0074)
    if section.upper() in codes.REPORT_CATEGORY_BY_SECTION:
        return codes.REPORT_CATEGORY_BY_SECTION[section.upper()]
    loinc = first_code(categories, codes.LOINC)
    if loinc in codes.REPORT_CATEGORY_BY_LOINC:
        return codes.REPORT_CATEGORY_BY_LOINC[loinc]
    if resource.imagingStudy:
        return ResultReport.Category.IMAGING
    return ResultReport.Category.LAB if resource.result else ResultReport.Category.OTHER


def _party(references: Any, ctx: Context) -> str:
    """The name of the first performer: the reference's display, or the named entry's own name."""
    for reference in references or []:
        name = display_of(reference) or party_name(ctx.lookup(reference))
        if name:
            return name
    return ""


def party_name(found: tuple[str, Any] | None) -> str:
    """A Practitioner's or Organization's name, from an entry of the same file."""
    if found is None:
        return ""
    resource = found[1]
    name = getattr(resource, "name", None)
    if isinstance(name, str):
        return name
    for human in name or []:
        if human.text:
            return str(human.text)
        parts = [*(human.prefix or []), *(human.given or []), human.family or ""]
        return " ".join(part for part in parts if part)
    return ""


def _ordered_by(resource: Any, ctx: Context) -> str:
    named = extension_value(resource, "ordered-by")
    if named:
        return str(named)
    for reference in resource.basedOn or []:
        found = ctx.lookup(reference)
        requester = getattr(found[1], "requester", None) if found else None
        name = display_of(requester) or party_name(ctx.lookup(requester))
        if name:
            return name
    return ""


def _narrative(resource: Any, category: str, ctx: Context) -> dict[str, str]:
    conclusion = str(resource.conclusion or "").strip()
    if category != ResultReport.Category.IMAGING:
        return {"conclusion": conclusion, "findings": "", "impression": ""}
    findings: list[str] = []
    comment: list[str] = []
    for position, form in enumerate(resource.presentedForm or []):
        if (form.contentType or "").split(";")[0].strip() != "text/plain" or form.data is None:
            continue
        text = decoded_text(form.data, ctx, f"presentedForm[{position}].data")
        (comment if (form.title or "").strip().lower() == COMMENT_TITLE.lower() else findings).append(text)
    return {"conclusion": "\n\n".join(comment), "findings": "\n\n".join(findings), "impression": conclusion}


def decoded_text(data: Any, ctx: Context, path: str) -> str:
    """An attachment's text; fhir.resources has already decoded the base64."""
    raw = data if isinstance(data, bytes) else str(data).encode()
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        ctx.problem(path, "is not UTF-8 text")
        return ""


@dataclass
class StudyIn:
    """An ImagingStudy's facts, merged into the report that names it."""

    source_id: str
    clinic_number: str
    fields: dict[str, Any]
    name: str
    row_where: Any


def study_in(resource: Any, ctx: Context, source_id: str) -> StudyIn | None:
    number = ctx.patient(resource.subject, "subject")
    uid = ""
    for identifier in resource.identifier or []:
        if identifier.system == codes.DICOM_UID and identifier.value:
            uid = str(identifier.value).removeprefix("urn:oid:")
    series = (resource.series or [None])[0]
    modality = (resource.modality or [None])[0] or (series.modality if series is not None else None)
    body = series.bodySite if series is not None else None
    fields: dict[str, Any] = {
        "modality": ctx.text(modality.code if modality is not None else "", "modality", 20),
        "body_site": ctx.text(
            (body.display or body.code) if body is not None else "", "series.bodySite", 100
        ),
        "study_uid": ctx.text(uid, "identifier", 80),
        "effective_at": ctx.moment(resource.started, "started", required=False),
        "sensitivity": sensitivity_of(resource),
    }
    if number is None:
        return None
    name = str(resource.description or "").strip() or f"{fields['modality'] or 'Imaging'} study"
    return StudyIn(source_id, number, fields, name[:200], ctx.where)


# Outbound -----------------------------------------------------------------------------------


def observation_out(row: Observation, out: Out) -> dict[str, Any]:
    profiles = {"laboratory": "us-core-observation-lab", "vital-signs": "us-core-vital-signs"}
    profile = profiles.get(row.category, "us-core-observation-clinical-result")
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(row),
        "meta": meta(profile, row.sensitivity),
        "identifier": identifiers(row),
        "status": _observation_status(row),
        "category": [
            concept(codes.OBSERVATION_CATEGORY, row.category, label(Observation.Category, row.category))
        ],
        "code": concept(codes.LOINC, row.code, row.name, row.name),
        "subject": out.subject,
        "effectiveDateTime": moment_text(row.effective_at),
        "interpretation": [
            concept(
                codes.INTERPRETATION,
                row.interpretation,
                label(Observation.Interpretation, row.interpretation),
            )
        ]
        if row.interpretation
        else [],
        "note": note_list(row.note),
        "referenceRange": [
            {
                "low": {"value": number_json(row.range_low), "unit": row.unit}
                if row.range_low is not None
                else None,
                "high": {"value": number_json(row.range_high), "unit": row.unit}
                if row.range_high is not None
                else None,
                "text": row.range_text,
            }
        ],
    }
    resource |= _value_out(row)
    return clean(resource)


def label(choices: type[models.TextChoices], value: str) -> str:
    """The display of a stored choice, as `get_<field>_display()` gives it.

    Found by value on the choices class: `get_<field>_display()` rebuilds the field's whole
    table of choices on every call, hashing (so translating) each label, which was half the
    time of mapping a page of Observations.
    """
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _observation_status(row: Observation) -> str:
    return {"corrected": "corrected", "cancelled": "cancelled"}.get(row.status, row.status)


def _value_out(row: Observation) -> dict[str, Any]:
    if row.value_number is not None:
        quantity = {"value": number_json(row.value_number), "unit": row.unit}
        return {"valueQuantity": quantity}
    pressure = PRESSURE.match(row.value_text) if row.code == BLOOD_PRESSURE else None
    if pressure:
        return {
            "component": [
                {
                    "code": concept(codes.LOINC, code, name),
                    "valueQuantity": {"value": number_json(Decimal(value)), "unit": row.unit},
                }
                for code, name, value in (
                    (SYSTOLIC, "Systolic blood pressure", pressure.group(1)),
                    (DIASTOLIC, "Diastolic blood pressure", pressure.group(2)),
                )
            ]
        }
    return {"valueString": row.value_text}


def report_out(row: ResultReport, observations: list[Observation], out: Out) -> dict[str, Any]:
    lab = row.category == ResultReport.Category.LAB
    categories = [
        concept(
            codes.V2_0074,
            codes.SECTION_BY_REPORT_CATEGORY[row.category],
            label(ResultReport.Category, row.category),
        )
    ]
    if row.category in codes.LOINC_REPORT_CATEGORY:
        code, name = codes.LOINC_REPORT_CATEGORY[row.category]
        categories.append(concept(codes.LOINC, code, name))
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": resource_id(row),
        "meta": meta(
            "us-core-diagnosticreport-lab" if lab else "us-core-diagnosticreport-note", row.sensitivity
        ),
        "extension": extensions(("ordered-by", "valueString", row.ordered_by_name)),
        "identifier": identifiers(row),
        "status": {"corrected": "corrected"}.get(row.status, row.status),
        "category": categories,
        "code": concept(codes.LOINC, row.code, row.name, row.name),
        "subject": out.subject,
        "encounter": out.reference("records.encounter", row.encounter_id),
        "effectiveDateTime": moment_text(row.effective_at),
        "issued": moment_text(row.issued_at),
        "performer": [{"display": row.performer}] if row.performer else [],
        "result": [out.reference("records.observation", observation.pk) for observation in observations],
    }
    resource |= _narrative_out(row, out)
    return clean(resource)


def _narrative_out(row: ResultReport, out: Out) -> dict[str, Any]:
    if row.category != ResultReport.Category.IMAGING:
        return {"conclusion": row.conclusion}
    forms = [(FINDINGS_TITLE, row.findings), (COMMENT_TITLE, row.conclusion)]
    return {
        "conclusion": row.impression,
        "imagingStudy": [out.reference("records.resultreport-study", row.pk)],
        "presentedForm": [
            {"contentType": "text/plain", "title": title, "data": base64.b64encode(text.encode()).decode()}
            for title, text in forms
            if text
        ],
    }


def has_study(row: ResultReport) -> bool:
    return bool(row.study_uid or row.modality or row.body_site)


def study_url(row: ResultReport) -> str:
    return f"urn:uuid:{uuid.uuid5(EXPORT_NAMESPACE, f'study:{row.pk}')}"


def study_out(row: ResultReport, out: Out) -> dict[str, Any]:
    """The imaging study of an imaging report, as its own ImagingStudy resource.

    The body part lives on a series; the portal keeps no series UID, so the series gets one
    made from a UUID (the DICOM "2.25." arc), the same in every export.
    """
    series_uid = f"2.25.{uuid.uuid5(EXPORT_NAMESPACE, f'series:{row.pk}').int}"
    series = {
        "uid": series_uid,
        "modality": {"system": codes.DICOM_DCM, "code": row.modality or "OT"},
        "bodySite": {"display": row.body_site},
    }
    return clean(
        {
            "resourceType": "ImagingStudy",
            "id": f"study-{row.pk}",
            "meta": {"security": codes.security_labels(row.sensitivity)},
            "identifier": [{"system": codes.DICOM_UID, "value": f"urn:oid:{row.study_uid}"}]
            if row.study_uid
            else [],
            "status": "available",
            "modality": [{"system": codes.DICOM_DCM, "code": row.modality}] if row.modality else [],
            "subject": out.subject,
            "started": moment_text(row.effective_at),
            "description": row.name,
            "series": [series] if row.body_site else [],
        }
    )
