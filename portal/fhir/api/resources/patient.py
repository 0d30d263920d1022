"""Patient: the one patient a grant is bound to, as US Core Patient."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources._refs import organization_reference
from portal.fhir.api.search import date_param, string_param, token_param
from portal.fhir.mapping.patients import patient_out
from portal.patients.models import Patient

GENDER = "http://hl7.org/fhir/administrative-gender"


def rows(grant: ApiGrant) -> models.QuerySet[Patient]:
    return Patient.objects.filter(pk=grant.patient.pk)


def to_fhir(row: Patient, grant: ApiGrant) -> dict[str, Any]:
    resource = patient_out(row)
    home = organization_reference(row.primary_campus_id)
    if home is not None:
        resource["managingOrganization"] = home
    return resource


PATIENT = registry.register(
    registry.ResourceType(
        name="Patient",
        profiles=(codes.US_CORE + "us-core-patient",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="patient",
        default_order=("id",),
        search_params={
            "identifier": registry.SearchParam(
                "identifier",
                "token",
                token_param("clinic_number", codes.clinic_number_system),
                "The clinic number (system|value)",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-patient-identifier",
            ),
            "name": registry.SearchParam(
                "name",
                "string",
                string_param("family_name", "given_name", "preferred_name"),
                "The start of a family, given or preferred name",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-patient-name",
            ),
            "birthdate": registry.SearchParam(
                "birthdate",
                "date",
                date_param("birth_date", is_date=True),
                "Date of birth, with prefixes",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-patient-birthdate",
            ),
            "gender": registry.SearchParam(
                "gender",
                "token",
                token_param("sex_at_birth", GENDER),
                "male | female | other | unknown",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-patient-gender",
            ),
        },
    )
)
