from __future__ import annotations

from django.apps import AppConfig


class FhirConfig(AppConfig):
    """FHIR R4 and HL7 v2 at the boundary: import from the clinic's systems, export to the patient."""

    name = "portal.fhir"
    label = "fhir"

    def ready(self) -> None:
        from portal.fhir import phrases  # noqa: F401  (registers the audit phrases)
