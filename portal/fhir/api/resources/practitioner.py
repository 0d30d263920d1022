"""Practitioner: the clinicians of the patient's own care, not the whole staff list.

A practitioner is served when the patient has a care relationship with them, a visible
visit with them, or an appointment with them.
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
from portal.records.models import Encounter
from portal.scheduling.access import appointments_of, may_see_appointments

NPI = "http://hl7.org/fhir/sid/us-npi"


def rows(grant: ApiGrant) -> models.QuerySet[Practitioner]:
    patient = grant.patient
    seen = Q(care_relationships__patient=patient) | Q(
        pk__in=visible(Encounter, grant.access).filter(practitioner__isnull=False).values("practitioner_id")
    )
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
