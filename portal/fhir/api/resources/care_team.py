"""CareTeam: the patient's care teams, each with the practitioners who care for this patient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import patient_reference
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import organization_reference
from portal.fhir.mapping.common import clean
from portal.organization.models import CareTeam
from portal.patients.models import CareRelationship

STATUS_SYSTEM = "http://hl7.org/fhir/care-team-status"
PkOf = Callable[[Any], int | None]
ROLE = {"system": codes.SNOMED, "code": "158965000", "display": "Medical practitioner"}


def rows(grant: ApiGrant) -> models.QuerySet[CareTeam]:
    mine = CareRelationship.objects.filter(patient=grant.patient).order_by("starts_on", "id")
    teams = CareTeam.objects.filter(care_relationships__patient=grant.patient).values("pk")
    current = mine.filter(care_team=OuterRef("pk")).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=timezone.localdate())
    )
    return (
        CareTeam.objects.filter(pk__in=teams)
        .select_related("campus")
        .annotate(api_active=Exists(current))
        .prefetch_related(Prefetch("care_relationships", queryset=mine, to_attr="api_relationships"))
    )


def members(row: CareTeam) -> list[int]:
    """The practitioners caring for the patient in this team (rows from `rows`)."""
    relationships: list[CareRelationship] = getattr(row, "api_relationships", [])
    return sorted({item.practitioner_id for item in relationships if item.practitioner_id})


def to_fhir(row: CareTeam, grant: ApiGrant) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "CareTeam",
            "id": f"careteam-{row.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-careteam"]},
            "status": "active" if getattr(row, "api_active", False) else "inactive",
            "name": row.name,
            "subject": {"reference": patient_reference(grant.patient)},
            "participant": [
                {"role": [{"coding": [ROLE]}], "member": {"reference": f"Practitioner/practitioner-{pk}"}}
                for pk in members(row)
            ],
            "managingOrganization": [
                organization_reference(row.campus_id, row.campus.name if row.campus else "")
            ],
            "telecom": [{"system": "phone", "value": row.phone}] if row.phone else [],
        }
    )


CARE_TEAM = registry.register(
    registry.ResourceType(
        name="CareTeam",
        profiles=(codes.US_CORE + "us-core-careteam",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="careteam",
        default_order=("name", "id"),
        last_updated_field="",
        includes=("CareTeam:participant", "CareTeam:participant:Practitioner"),
        include_targets={
            # Several members per team: the engine takes the list.
            "CareTeam:participant": ("Practitioner", cast(PkOf, members)),
            "CareTeam:participant:Practitioner": ("Practitioner", cast(PkOf, members)),
        },
        search_params={
            "patient": registry.SearchParam(
                "patient", "reference", search.patient_reference("care_relationships__patient")
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("api_active", {STATUS_SYSTEM: {"active": [True], "inactive": [False]}}),
                "active | inactive: whether the team cares for the patient now",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-careteam-status",
            ),
        },
    )
)
