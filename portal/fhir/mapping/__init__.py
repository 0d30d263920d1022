"""US Core R4 resources <-> the record's models, both ways, one module per group of resources.

Inbound mappers take a validated `fhir.resources.R4B` model, a `Context` and the
resource's source id, note problems on the context, and return staged rows; outbound
mappers take a row and the bundle being built and return a JSON-ready resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.fhir.mapping.clinical import condition_in, encounter_in, procedure_in
from portal.fhir.mapping.common import Context
from portal.fhir.mapping.documents import document_reference_in
from portal.fhir.mapping.medications import allergy_in, immunization_in, medication_in
from portal.fhir.mapping.results import observation_in, report_in, study_in

INBOUND: dict[str, Callable[[Any, Context, str], Any]] = {
    "Observation": observation_in,
    "DiagnosticReport": report_in,
    "ImagingStudy": study_in,
    "DocumentReference": document_reference_in,
    "MedicationRequest": medication_in,
    "MedicationStatement": medication_in,
    "AllergyIntolerance": allergy_in,
    "Immunization": immunization_in,
    "Condition": condition_in,
    "Encounter": encounter_in,
    "Procedure": procedure_in,
}
# Read only for what the others refer to: the patient, names of people and places, a drug.
CONTEXT_TYPES = frozenset(
    {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
        "Medication",
        "ServiceRequest",
    }
)
