"""Patient: matched on import by the clinic number, never created; written out on export."""

from __future__ import annotations

from typing import Any

from portal.fhir import codes
from portal.fhir.mapping.common import clean, day_text
from portal.patients.models import Patient


def identifier_values(resource: Any) -> list[str]:
    """The resource's identifier values, the clinic's own system first."""
    preferred = codes.clinic_number_system()
    found = [(item.system != preferred, str(item.value)) for item in resource.identifier or [] if item.value]
    return [value for _other, value in sorted(found, key=lambda pair: pair[0])]


def patient_out(patient: Patient) -> dict[str, Any]:
    phones = [
        {"system": "phone", "value": number, "use": use}
        for number, use in ((patient.mobile_phone, "mobile"), (patient.home_phone, "home"))
        if number
    ]
    email = [{"system": "email", "value": patient.email}] if patient.email else []
    return clean(
        {
            "resourceType": "Patient",
            "id": f"patient-{patient.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-patient"]},
            "identifier": [
                {
                    "use": "usual",
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
                        "text": "Clinic number",
                    },
                    "system": codes.clinic_number_system(),
                    "value": patient.clinic_number,
                }
            ],
            "name": [
                {"use": "official", "family": patient.family_name, "given": [patient.given_name]},
                {"use": "usual", "given": [patient.preferred_name]} if patient.preferred_name else None,
            ],
            "gender": patient.sex_at_birth,
            "birthDate": day_text(patient.birth_date),
            "telecom": [*phones, *email],
            "address": [
                {
                    "line": [patient.address_line] if patient.address_line else [],
                    "city": patient.city,
                    "state": patient.region,
                    "postalCode": patient.postal_code,
                    "country": patient.country,
                }
            ]
            if patient.address_line or patient.city
            else [],
            "communication": [
                {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.preferred_language}]}}
            ],
        }
    )
