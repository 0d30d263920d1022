"""MedicationRequest / MedicationStatement <-> Medication, AllergyIntolerance <-> Allergy, Immunization.

The portal's refill facts (last fill, refills left, whether a refill can be asked for
online) have no FHIR element; they travel as portal extensions, as does the dose as the
clinic wrote it ("10 mg tablet"), next to a `doseQuantity` when it reads as one.
"""

from __future__ import annotations

import re
from decimal import Decimal
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
    name_of,
    note_list,
    notes_of,
    number_json,
    sensitivity_of,
)
from portal.fhir.mapping.outbound import Out, identifiers, resource_id
from portal.fhir.mapping.results import party_name
from portal.fhir.staging import Row
from portal.records.models import Allergy, Immunization, Medication

REQUEST_STATUS = {
    "active": "active",
    "on-hold": "on-hold",
    "draft": "on-hold",
    "completed": "completed",
    "stopped": "stopped",
    "cancelled": "stopped",
    "unknown": "active",
    "entered-in-error": "",
}
STATEMENT_STATUS = {
    "active": "active",
    "intended": "active",
    "on-hold": "on-hold",
    "completed": "completed",
    "stopped": "stopped",
    "not-taken": "stopped",
    "unknown": "active",
    "entered-in-error": "",
}
IMMUNIZATION_STATUS = {"completed": "completed", "not-done": "not-done", "entered-in-error": ""}
ALLERGY_STATUS = {"active": "active", "inactive": "inactive", "resolved": "resolved"}
VOID = frozenset({"entered-in-error", "refuted"})
DOSE = re.compile(r"^(\d+(?:\.\d+)?)\s+(\S.*)$")


def removal(model: type[Any], number: str | None, source_id: str, ctx: Context) -> Row | None:
    """The source says the row was entered in error: remove it if an earlier import made it."""
    return Row(model, number, source_id, {}, where=ctx.where, remove=True) if number else None


# Medications --------------------------------------------------------------------------------


def medication_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    request = resource.get_resource_type() == "MedicationRequest"
    number = ctx.patient(resource.subject, "subject")
    status = ctx.status(resource.status, REQUEST_STATUS if request else STATEMENT_STATUS, "status")
    if status == "":
        return removal(Medication, number, source_id, ctx)
    drug = resource.medicationCodeableConcept
    drug_name = name_of(drug)
    if resource.medicationReference is not None:
        found = ctx.lookup(resource.medicationReference)
        drug = getattr(found[1], "code", None) if found else None
        drug_name = name_of(drug) or display_of(resource.medicationReference)
    dosage = ((resource.dosageInstruction if request else resource.dosage) or [None])[0]
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "name": ctx.text(drug_name, "medicationCodeableConcept", 200, required=True),
        "code": ctx.text(code_of(drug, [codes.RXNORM])[1], "medicationCodeableConcept.coding", 40),
        "status": status,
        "reason": ctx.text(name_of((resource.reasonCode or [None])[0]), "reasonCode", 200),
    }
    fields |= _dosage(dosage, ctx) | (_request(resource, ctx) if request else _statement(resource, ctx))
    fields |= _refills(resource, fields.pop("repeats", None), ctx)
    if number is None or status is None:
        return None
    return Row(Medication, number, source_id, fields, where=ctx.where)


def _dosage(dosage: Any, ctx: Context) -> dict[str, str]:
    if dosage is None:
        return {"dose": "", "route": "", "instructions": ""}
    dose = extension_value(dosage, "dose")
    if dose is None:
        quantity = next(
            (rate.doseQuantity for rate in dosage.doseAndRate or [] if rate.doseQuantity is not None), None
        )
        if quantity is not None:
            amount = (
                format(Decimal(str(quantity.value)).normalize(), "f") if quantity.value is not None else ""
            )
            dose = f"{amount} {quantity.unit or quantity.code or ''}".strip()
    return {
        "dose": ctx.text(dose, "dosageInstruction.doseAndRate", 100),
        "route": ctx.text(name_of(dosage.route), "dosageInstruction.route", 60),
        "instructions": ctx.text(dosage.text or dosage.patientInstruction, "dosageInstruction.text", 500),
    }


def _request(resource: Any, ctx: Context) -> dict[str, Any]:
    dispense = resource.dispenseRequest
    validity = dispense.validityPeriod if dispense is not None else None
    return {
        "prescriber_name": ctx.text(
            display_of(resource.requester) or party_name(ctx.lookup(resource.requester)), "requester", 200
        ),
        "started_on": ctx.day((validity.start if validity else None) or resource.authoredOn, "authoredOn"),
        "ended_on": ctx.day(
            validity.end if validity else None, "dispenseRequest.validityPeriod.end", required=False
        ),
        "repeats": dispense.numberOfRepeatsAllowed if dispense is not None else None,
    }


def _statement(resource: Any, ctx: Context) -> dict[str, Any]:
    period = resource.effectivePeriod
    start = (period.start if period else None) or resource.effectiveDateTime or resource.dateAsserted
    return {
        "prescriber_name": ctx.text(
            display_of(resource.informationSource) or party_name(ctx.lookup(resource.informationSource)),
            "informationSource",
            200,
        ),
        "started_on": ctx.day(start, "effectivePeriod.start", required=False),
        "ended_on": ctx.day(period.end if period else None, "effectivePeriod.end", required=False),
    }


def _refills(resource: Any, repeats: Any, ctx: Context) -> dict[str, Any]:
    remaining = extension_value(resource, "refills-remaining")
    renewable = extension_value(resource, "renewable-online")
    return {
        "last_filled_on": ctx.day(extension_value(resource, "last-filled"), "extension", required=False),
        "refills_remaining": ctx.count(remaining if remaining is not None else repeats, "dispenseRequest"),
        "renewable_online": True if renewable is None else bool(renewable),
        "not_renewable_reason": str(extension_value(resource, "not-renewable-reason") or "")[:300],
    }


def medication_out(row: Medication, out: Out) -> dict[str, Any]:
    dose = DOSE.match(row.dose)
    dosage = {
        "extension": extensions(("dose", "valueString", row.dose)),
        "text": row.instructions,
        "route": {"text": row.route} if row.route else None,
        "doseAndRate": [
            {"doseQuantity": {"value": number_json(Decimal(dose.group(1))), "unit": dose.group(2)}}
        ]
        if dose
        else [],
    }
    return clean(
        {
            "resourceType": "MedicationRequest",
            "id": resource_id(row),
            "meta": meta("us-core-medicationrequest", row.sensitivity),
            "extension": extensions(
                ("last-filled", "valueDate", day_text(row.last_filled_on)),
                ("refills-remaining", "valueInteger", row.refills_remaining),
                ("renewable-online", "valueBoolean", row.renewable_online),
                ("not-renewable-reason", "valueString", row.not_renewable_reason),
            ),
            "identifier": identifiers(row),
            "status": row.status,
            "intent": "order",
            "medicationCodeableConcept": concept(codes.RXNORM, row.code, row.name, row.name),
            "subject": out.subject,
            "authoredOn": day_text(row.started_on),
            "requester": {"display": row.prescriber_name} if row.prescriber_name else None,
            "reasonCode": [{"text": row.reason}] if row.reason else [],
            "dosageInstruction": [dosage],
            "dispenseRequest": {
                "validityPeriod": {"start": day_text(row.started_on), "end": day_text(row.ended_on)},
                "numberOfRepeatsAllowed": row.refills_remaining,
            },
        }
    )


# Allergies ----------------------------------------------------------------------------------


def allergy_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.patient, "patient")
    verification = codes_in(resource.verificationStatus)
    if verification & VOID:
        return removal(Allergy, number, source_id, ctx)
    clinical = next(iter(sorted(codes_in(resource.clinicalStatus))), "active")
    status = ctx.status(clinical, ALLERGY_STATUS, "clinicalStatus")
    reactions = resource.reaction or []
    manifestations = [name_of(item) for reaction in reactions for item in reaction.manifestation or []]
    severity = next((str(reaction.severity) for reaction in reactions if reaction.severity), "")
    severity = severity or str(extension_value(resource, "severity") or "")
    category = str((resource.category or [""])[0])
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "substance": ctx.text(name_of(resource.code), "code", 200, required=True),
        "code": ctx.text(code_of(resource.code)[1], "code.coding", 40),
        "category": category if category in Allergy.Category.values else "",
        "reaction": ctx.text(
            "; ".join(name for name in manifestations if name), "reaction.manifestation", 300
        ),
        "severity": severity if severity in Allergy.Severity.values else "",
        "status": status,
        "recorded_on": ctx.day(resource.recordedDate or resource.onsetDateTime, "recordedDate"),
        "note": notes_of(resource.note),
    }
    if number is None or status is None or fields["recorded_on"] is None:
        return None
    return Row(Allergy, number, source_id, fields, where=ctx.where)


def codes_in(value: Any) -> set[str]:
    return (
        {str(coding.code) for coding in (value.coding or []) if coding.code} if value is not None else set()
    )


def allergy_out(row: Allergy, out: Out) -> dict[str, Any]:
    system = codes.RXNORM if row.category == Allergy.Category.MEDICATION else codes.SNOMED
    reactions = [part for part in row.reaction.split("; ") if part]
    return clean(
        {
            "resourceType": "AllergyIntolerance",
            "id": resource_id(row),
            "meta": meta("us-core-allergyintolerance", row.sensitivity),
            "extension": extensions(("severity", "valueString", row.severity)) if not reactions else [],
            "identifier": identifiers(row),
            "clinicalStatus": concept(codes.ALLERGY_CLINICAL, row.status, row.get_status_display()),
            "verificationStatus": concept(codes.ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
            "category": [row.category] if row.category else [],
            "code": concept(system, row.code, row.substance, row.substance),
            "patient": out.subject,
            "recordedDate": day_text(row.recorded_on),
            "note": note_list(row.note),
            "reaction": [
                {"manifestation": [{"text": part} for part in reactions], "severity": row.severity or None}
            ]
            if reactions
            else [],
        }
    )


# Immunizations ------------------------------------------------------------------------------


def immunization_in(resource: Any, ctx: Context, source_id: str) -> Row | None:
    number = ctx.patient(resource.patient, "patient")
    status = ctx.status(resource.status, IMMUNIZATION_STATUS, "status")
    if status == "":
        return removal(Immunization, number, source_id, ctx)
    performer = (resource.performer or [None])[0]
    actor = performer.actor if performer is not None else None
    applied = (resource.protocolApplied or [None])[0]
    location = display_of(resource.location) or party_name(ctx.lookup(resource.location))
    fields: dict[str, Any] = {
        "sensitivity": sensitivity_of(resource),
        "vaccine": ctx.text(name_of(resource.vaccineCode), "vaccineCode", 200, required=True),
        "code": ctx.text(code_of(resource.vaccineCode, [codes.CVX])[1], "vaccineCode.coding", 10),
        "status": status,
        "given_on": ctx.day(resource.occurrenceDateTime or resource.occurrenceString, "occurrenceDateTime"),
        "dose_number": ctx.count(
            applied.doseNumberPositiveInt if applied else None, "protocolApplied.doseNumber"
        ),
        "lot_number": ctx.text(resource.lotNumber, "lotNumber", 40),
        "site": ctx.text(name_of(resource.site), "site", 60),
        "performer_name": ctx.text(display_of(actor) or party_name(ctx.lookup(actor)), "performer", 200),
        "campus_id": ctx.campus(location),
        "note": notes_of(resource.note),
    }
    if number is None or status is None or fields["given_on"] is None:
        return None
    return Row(Immunization, number, source_id, fields, where=ctx.where)


def immunization_out(row: Immunization, out: Out) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Immunization",
            "id": resource_id(row),
            "meta": meta("us-core-immunization", row.sensitivity),
            "identifier": identifiers(row),
            "status": row.status,
            "vaccineCode": concept(codes.CVX, row.code, row.vaccine, row.vaccine),
            "patient": out.subject,
            "occurrenceDateTime": day_text(row.given_on),
            "primarySource": True,
            "location": {"display": row.campus.name} if row.campus else None,
            "lotNumber": row.lot_number,
            "site": {"text": row.site} if row.site else None,
            "performer": [{"actor": {"display": row.performer_name}}] if row.performer_name else [],
            "note": note_list(row.note),
            "protocolApplied": [{"doseNumberPositiveInt": row.dose_number}] if row.dose_number else [],
        }
    )
