"""RESTful references for the API's resources, in the shape the export's mappers expect.

The mappers in `portal/fhir/mapping/` were written for the record download, where an
`Out` makes bundle-internal `urn:uuid:` references. `ApiOut` answers the same calls
(`subject`, `reference`, `add`, `included`) with `Patient/patient-12`-style references, so
the API reuses the mappers unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models

from portal.patients.models import Patient

# The resource type each record model is served as; a label not listed here gets no
# reference (the mappers then leave the element out rather than link to nothing).
TYPE_BY_LABEL: dict[str, str] = {
    "patients.patient": "Patient",
    "records.observation": "Observation",
    "records.resultreport": "DiagnosticReport",
    "records.encounter": "Encounter",
    "records.clinicalnote": "DocumentReference",
    "records.document": "DocumentReference",
    "records.medication": "MedicationRequest",
    "records.allergy": "AllergyIntolerance",
    "records.immunization": "Immunization",
    "records.problem": "Condition",
    "records.procedure": "Procedure",
}


def public_id(label: str, pk: int) -> str:
    """The API id of a row: its model name and pk, as `resource_id` makes them ("encounter-12")."""
    return f"{label.partition('.')[2]}-{pk}"


def patient_reference(patient: Patient | int) -> str:
    pk = patient if isinstance(patient, int) else patient.pk
    return f"Patient/patient-{pk}"


@dataclass
class ApiOut:
    """An `Out` for one patient whose references are relative RESTful ones (`Encounter/encounter-3`)."""

    patient_url: str
    # Kept for compatibility with `Out`: callers may register extra (label, pk) -> reference.
    included: dict[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def for_patient(cls, patient: Patient | int) -> ApiOut:
        return cls(patient_url=patient_reference(patient))

    def add(self, row: models.Model) -> str:
        return self.url(row._meta.label_lower, int(row.pk)) or ""

    def url(self, label: str, pk: int) -> str | None:
        if (label, pk) in self.included:
            return self.included[(label, pk)]
        kind = TYPE_BY_LABEL.get(label)
        return f"{kind}/{public_id(label, pk)}" if kind else None

    def reference(self, label: str, pk: int | None) -> dict[str, str] | None:
        url = self.url(label, pk) if pk is not None else None
        return {"reference": url} if url else None

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": self.patient_url}
