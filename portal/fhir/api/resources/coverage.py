"""Coverage: the insurance plans the patient gave us (for those who may see billing)."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import patient_reference
from portal.fhir.api.resources import _search as search
from portal.fhir.mapping.common import clean, day_text
from portal.patients.models import Coverage, Scope

STATUS = {"active": ["pending", "verified"], "cancelled": ["rejected", "inactive"]}
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
RELATIONSHIP_CODE = {"self": "self", "spouse": "spouse", "parent": "parent", "other": "other"}
MEMBER_ID = {
    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
    "code": "MB",
    "display": "Member Number",
}


def rows(grant: ApiGrant) -> models.QuerySet[Coverage]:
    # Insurance is billing, not the record: a proxy without the billing scope does not get it.
    if not grant.access.allows(Scope.BILLING):
        return Coverage.objects.none()
    return Coverage.objects.filter(patient=grant.patient)


def to_fhir(row: Coverage, grant: ApiGrant) -> dict[str, Any]:
    patient = {"reference": patient_reference(grant.patient)}
    return clean(
        {
            "resourceType": "Coverage",
            "id": f"coverage-{row.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-coverage"]},
            "identifier": [{"type": {"coding": [MEMBER_ID]}, "value": row.member_id}],
            "status": "active" if row.status in STATUS["active"] else "cancelled",
            "subscriberId": row.member_id,
            "beneficiary": patient,
            "relationship": {
                "coding": [{"system": RELATIONSHIP, "code": RELATIONSHIP_CODE[row.subscriber_relationship]}]
            },
            "period": {"start": day_text(row.effective_from), "end": day_text(row.effective_until)},
            "payor": [{"display": row.payer_name}],
            "order": 1 if row.priority == Coverage.Priority.PRIMARY else 2,
            "class": [
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                "code": "group",
                            }
                        ]
                    },
                    "value": row.group_number,
                }
            ]
            if row.group_number
            else [],
        }
    )


COVERAGE = registry.register(
    registry.ResourceType(
        name="Coverage",
        profiles=(codes.US_CORE + "us-core-coverage",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="coverage",
        default_order=("priority", "id"),
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "beneficiary": registry.SearchParam("beneficiary", "reference", search.patient_reference()),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {"http://hl7.org/fhir/fm-status": STATUS}),
                "active | cancelled",
            ),
        },
    )
)
