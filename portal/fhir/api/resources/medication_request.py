"""MedicationRequest: the patient's medication list, each as the order behind it."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, patient_time, practitioner_reference
from portal.fhir.mapping.medications import medication_out
from portal.records.access import visible
from portal.records.models import Medication

STATUS_SYSTEM = "http://hl7.org/fhir/CodeSystem/medicationrequest-status"
INTENT_SYSTEM = "http://hl7.org/fhir/CodeSystem/medicationrequest-intent"


def rows(grant: ApiGrant) -> models.QuerySet[Medication]:
    return visible(Medication, grant.access)


def to_fhir(row: Medication, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = medication_out(row, api_out(grant))  # type: ignore[arg-type]
    requester = practitioner_reference(row.prescriber_id, row.prescriber_name)
    if requester is not None:
        resource["requester"] = requester
    return resource


MEDICATION_REQUEST = registry.register(
    registry.ResourceType(
        name="MedicationRequest",
        profiles=(codes.US_CORE + "us-core-medicationrequest",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="medication",
        default_order=("name", "id"),
        sorts={"authoredon": ("started_on", "id")},
        # Medicines are codes inside each request, never Medication resources: the include
        # US Core asks servers to accept is accepted and adds nothing.
        includes=("MedicationRequest:medication", "MedicationRequest:requester"),
        include_targets={"MedicationRequest:requester": ("Practitioner", lambda row: row.prescriber_id)},
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: search.same_codes(Medication.Status.values)}),
                "active | on-hold | completed | stopped ...",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-medicationrequest-status",
            ),
            "intent": registry.SearchParam(
                "intent",
                "token",
                search.choice_token("status", {INTENT_SYSTEM: {"order": list(Medication.Status.values)}}),
                "every medication is an order",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-medicationrequest-intent",
            ),
            "authoredon": registry.SearchParam(
                "authoredon",
                "date",
                search.date_param("started_on", is_datetime=False),
                "when the medication was started",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-medicationrequest-authoredon",
            ),
        },
    )
)
