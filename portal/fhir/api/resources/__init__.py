"""Every resource type the API serves; importing this package registers them."""

from portal.fhir.api.resources import (  # noqa: F401
    allergy_intolerance,
    appointment,
    binary,
    care_plan,
    care_team,
    condition,
    coverage,
    diagnostic_report,
    document_reference,
    encounter,
    immunization,
    location,
    medication_request,
    observation,
    organization,
    patient,
    practitioner,
    procedure,
)
