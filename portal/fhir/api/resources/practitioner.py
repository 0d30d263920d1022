"""Practitioner: the clinicians of the patient's own care, not the whole staff list.

A practitioner is served when the patient has a care relationship with them, an
appointment with them, or a record row this grant may see names them (a visit, a note
they wrote, a medication they prescribed). Those rows come from `records.access.visible`:
a clinician an adolescent sees only in confidential care is not revealed to a parent.
Care relationships and appointments carry no confidential category; the portal's own
pages show both to anyone with the view scope.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.mapping.common import clean
from portal.organization.models import Practitioner
from portal.records.access import visible
from portal.records.models import ClinicalNote, Encounter, Medication
from portal.scheduling.access import appointments_of, may_see_appointments

NPI = "http://hl7.org/fhir/sid/us-npi"


def rows(grant: ApiGrant) -> models.QuerySet[Practitioner]:
    patient = grant.patient
    access = grant.access
    seen = Q(care_relationships__patient=patient)
    named_in: list[tuple[models.QuerySet[Any], str]] = [
        (visible(Encounter, access), "practitioner_id"),
        (visible(ClinicalNote, access), "author_id"),
        (visible(Medication, access), "prescriber_id"),
    ]
    for record_rows, field_name in named_in:
        seen |= Q(pk__in=record_rows.filter(**{f"{field_name}__isnull": False}).values(field_name))
    if may_see_appointments(grant.access):
        seen |= Q(pk__in=appointments_of(grant.access).values("practitioner_id"))
    return Practitioner.objects.filter(pk__in=Practitioner.objects.filter(seen).values("pk"))


def to_fhir(row: Practitioner, grant: ApiGrant) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Practitioner",
            "id": f"practitioner-{row.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-practitioner"]},
            "identifier": [{"system": NPI, "value": row.npi}] if row.npi else [],
            "active": row.active,
            "name": [
                {
                    "family": row.family_name,
                    "given": [row.given_name],
                    "suffix": [row.credentials] if row.credentials else [],
                    "text": f"{row.given_name} {row.family_name}".strip(),
                }
            ],
        }
    )


PRACTITIONER = registry.register(
    registry.ResourceType(
        name="Practitioner",
        profiles=(codes.US_CORE + "us-core-practitioner",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="practitioner",
        default_order=("family_name", "given_name", "id"),
        last_updated_field="",
        search_params={
            "name": registry.SearchParam(
                "name",
                "string",
                search.engine.string_param("given_name", "family_name"),
                "a part of the name",
            ),
            "identifier": registry.SearchParam(
                "identifier", "token", search.code_token("npi", systems=[NPI]), "the NPI"
            ),
        },
    )
)
