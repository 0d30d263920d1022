"""Condition <-> Problem, Procedure <-> Procedure, Encounter <-> Encounter (a visit).

A visit's summary, instructions and follow-up have no Encounter element; they travel as
portal extensions. Its diagnoses go in `Encounter.diagnosis` as logical references
(the code as identifier, the name as display) unless they name a Condition in the file.
"""

from __future__ import annotations

from typing import Any

from portal.fhir import codes
from portal.fhir.mapping.common import (
    Context,
    clean,
    code_of,
    concept,
    day_text,
    display_of,
    extension_value,
    extensions,
    meta,
    moment_text,
    name_of,
    note_list,
    notes_of,
    sensitivity_of,
)
from portal.fhir.mapping.medications import VOID, codes_in, removal
from portal.fhir.mapping.outbound import Out, identifiers, resource_id
from portal.fhir.mapping.results import party_name
from portal.fhir.staging import Row
from portal.records.models import Encounter, Problem, Procedure

PROBLEM_STATUS = {
    "active": "active",
    "recurrence": "recurrence",
    "relapse": "recurrence",
    "inactive": "inactive",
    "remission": "inactive",
    "resolved": "resolved",
}
PROCEDURE_STATUS = {
    "preparation": "in-progress",
    "in-progress": "in-progress",
    "on-hold": "in-progress",
    "not-done": "not-done",
    "stopped": "completed",
    "completed": "completed",
    "unknown": "completed",
    "entered-in-error": "",
}
ENCOUNTER_STATUS = {
    "planned": "in-progress",
    "arrived": "in-progress",
    "triaged": "in-progress",
    "in-progress": "in-progress",
    "onleave": "in-progress",
    "finished": "finished",
    "cancelled": "cancelled",
    "unknown": "finished",
    "entered-in-error": "",
}
CONDITION_CATEGORIES = ("problem-list-item", "encounter-diagnosis", "health-concern")


# Problems -----------------------------------------------------------------------------------


def condition_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.subject, "subject")
    if codes_in(resource.verificationStatus) & VOID:
        return removal(Problem, number, source_id, ctx)
    clinical = next(iter(sorted(codes_in(resource.clinicalStatus))), "")
    if not clinical:
        clinical = "resolved" if resource.abatementDateTime else "active"
    status = ctx.status(clinical, PROBLEM_STATUS, "clinicalStatus")
    system, code, _display = code_of(resource.code, [codes.ICD10CM, codes.SNOMED])
    onset = resource.onsetDateTime or (resource.onsetPeriod.start if resource.onsetPeriod else None)
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "name": ctx.text(name_of(resource.code), "code", 200, required=True),
        "code": ctx.text(code, "code.coding", 40),
        "code_system": ctx.text(system, "code.coding.system", 100),
        "category": _condition_category(resource.category),
        "status": status,
        "onset_on": ctx.day(onset, "onsetDateTime", required=False),
        "abated_on": ctx.day(resource.abatementDateTime, "abatementDateTime", required=False),
        "recorded_on": ctx.day(resource.recordedDate or onset, "recordedDate"),
        "note": notes_of(resource.note),
    }
    if number is None or status is None or fields["recorded_on"] is None:
        return None
    return Row(Problem, number, source_id, fields, where=ctx.where)


def _condition_category(categories: Any) -> str:
    found = {str(coding.code) for category in categories or [] for coding in category.coding or []}
    return next((choice for choice in CONDITION_CATEGORIES if choice in found), CONDITION_CATEGORIES[0])


def condition_out(row: Problem, out: Out) -> dict[str, Any]:
    diagnosis = row.category == Problem.Category.ENCOUNTER_DIAGNOSIS
    category_system = (
        codes.US_CORE_CONDITION_CATEGORY
        if row.category == Problem.Category.HEALTH_CONCERN
        else codes.CONDITION_CATEGORY
    )
    return clean(
        {
            "resourceType": "Condition",
            "id": resource_id(row),
            "meta": meta(
                "us-core-condition-encounter-diagnosis"
                if diagnosis
                else "us-core-condition-problems-health-concerns",
                row.sensitivity,
            ),
            "identifier": identifiers(row),
            "clinicalStatus": concept(codes.CONDITION_CLINICAL, row.status, row.get_status_display()),
            "verificationStatus": concept(codes.CONDITION_VERIFICATION, "confirmed", "Confirmed"),
            "category": [concept(category_system, row.category, row.get_category_display())],
            "code": concept(row.code_system, row.code, row.name, row.name),
            "subject": out.subject,
            "onsetDateTime": day_text(row.onset_on),
            "abatementDateTime": day_text(row.abated_on),
            "recordedDate": day_text(row.recorded_on),
            "note": note_list(row.note),
        }
    )


# Procedures ---------------------------------------------------------------------------------


def procedure_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.subject, "subject")
    status = ctx.status(resource.status, PROCEDURE_STATUS, "status")
    if status == "":
        return removal(Procedure, number, source_id, ctx)
    system, code, _display = code_of(resource.code, [codes.SNOMED])
    performed = resource.performedDateTime or (
        resource.performedPeriod.start if resource.performedPeriod else None
    )
    performer = (resource.performer or [None])[0]
    actor = performer.actor if performer is not None else None
    location = display_of(resource.location) or party_name(ctx.lookup(resource.location))
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "name": ctx.text(name_of(resource.code), "code", 200, required=True),
        "code": ctx.text(code, "code.coding", 40),
        "code_system": ctx.text(system, "code.coding.system", 100),
        "status": status,
        "performed_at": ctx.moment(performed, "performedDateTime"),
        "performer_name": ctx.text(display_of(actor) or party_name(ctx.lookup(actor)), "performer", 200),
        "campus_id": ctx.campus(location),
        "note": notes_of(resource.note),
    }
    links = {"encounter": ctx.source_of(resource.encounter)} if resource.encounter else {}
    if number is None or status is None or fields["performed_at"] is None:
        return None
    return Row(Procedure, number, source_id, fields, where=ctx.where, links=links)


def procedure_out(row: Procedure, out: Out) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Procedure",
            "id": resource_id(row),
            "meta": meta("us-core-procedure", row.sensitivity),
            "identifier": identifiers(row),
            "status": row.status,
            "code": concept(row.code_system, row.code, row.name, row.name),
            "subject": out.subject,
            "encounter": out.reference("records.encounter", row.encounter_id),
            "performedDateTime": moment_text(row.performed_at),
            "performer": [{"actor": {"display": row.performer_name}}] if row.performer_name else [],
            "location": {"display": row.campus.name} if row.campus else None,
            "note": note_list(row.note),
        }
    )


# Visits -------------------------------------------------------------------------------------


def encounter_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.subject, "subject")
    status = ctx.status(resource.status, ENCOUNTER_STATUS, "status")
    if status == "":
        return removal(Encounter, number, source_id, ctx)
    period = resource.period
    participant = (resource.participant or [None])[0]
    individual = participant.individual if participant is not None else None
    place = (resource.location or [None])[0]
    location = place.location if place is not None else resource.serviceProvider
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "kind": _visit_kind(resource),
        "status": status,
        "started_at": ctx.moment(period.start if period else None, "period.start"),
        "ended_at": ctx.moment(period.end if period else None, "period.end", required=False),
        "practitioner_name": ctx.text(
            display_of(individual) or party_name(ctx.lookup(individual)), "participant.individual", 200
        ),
        "campus_id": ctx.campus(display_of(location) or party_name(ctx.lookup(location))),
        "reason": ctx.text(name_of((resource.reasonCode or [None])[0]), "reasonCode", 300),
        "summary": str(extension_value(resource, "summary") or ""),
        "instructions": str(extension_value(resource, "instructions") or ""),
        "follow_up": str(extension_value(resource, "follow-up") or ""),
        "diagnoses": [_diagnosis(item.condition, ctx) for item in resource.diagnosis or []],
    }
    if number is None or status is None or fields["started_at"] is None:
        return None
    return Row(Encounter, number, source_id, fields, where=ctx.where)


def _visit_kind(resource: Any) -> str:
    for concept_ in resource.type or []:
        for coding in concept_.coding or []:
            if coding.system == codes.PORTAL_VISIT_KIND and coding.code in Encounter.Kind.values:
                return str(coding.code)
    klass = resource.class_fhir
    return codes.VISIT_KIND_BY_CLASS.get(str(klass.code) if klass else "", Encounter.Kind.OFFICE)


def _diagnosis(reference: Any, ctx: Context) -> dict[str, str]:
    found = ctx.lookup(reference)
    if found is not None and getattr(found[1], "code", None) is not None:
        system, code, _display = code_of(found[1].code, [codes.ICD10CM, codes.SNOMED])
        named = {"code": code, "system": system, "name": name_of(found[1].code)}
    else:
        identifier = reference.identifier
        named = {
            "code": str(identifier.value or "") if identifier else "",
            "system": str(identifier.system or "") if identifier else "",
            "name": display_of(reference),
        }
    return {key: value for key, value in named.items() if value}


def encounter_out(row: Encounter, out: Out) -> dict[str, Any]:
    klass, klass_name = codes.CLASS_BY_VISIT_KIND[row.kind]
    return clean(
        {
            "resourceType": "Encounter",
            "id": resource_id(row),
            "meta": meta("us-core-encounter", row.sensitivity),
            "extension": extensions(
                ("summary", "valueString", row.summary),
                ("instructions", "valueString", row.instructions),
                ("follow-up", "valueString", row.follow_up),
            ),
            "identifier": identifiers(row),
            "status": row.status,
            "class": {"system": codes.ACT_CODE, "code": klass, "display": klass_name},
            "type": [concept(codes.PORTAL_VISIT_KIND, row.kind, row.get_kind_display())],
            "subject": out.subject,
            "participant": [{"individual": {"display": row.practitioner_name}}]
            if row.practitioner_name
            else [],
            "period": {"start": moment_text(row.started_at), "end": moment_text(row.ended_at)},
            "reasonCode": [{"text": row.reason}] if row.reason else [],
            "diagnosis": [_diagnosis_out(item) for item in row.diagnoses if isinstance(item, dict)],
            "location": [{"location": {"display": row.campus.name}}] if row.campus else [],
        }
    )


def _diagnosis_out(item: dict[str, Any]) -> dict[str, Any]:
    identifier = {"system": item.get("system") or None, "value": item.get("code") or None}
    return {"condition": {"identifier": identifier, "display": item.get("name") or None}}
