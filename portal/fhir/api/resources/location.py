"""Location: the campuses of the patient's care (their home campus and where they were seen)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import organization_reference
from portal.fhir.mapping.common import clean
from portal.organization.models import Campus
from portal.records.access import visible
from portal.records.models import Encounter, Immunization, Procedure
from portal.scheduling.access import appointments_of, may_see_appointments


def rows(grant: ApiGrant) -> models.QuerySet[Campus]:
    access = grant.access
    seen = Q(pk=grant.patient.primary_campus_id) | Q(care_teams__care_relationships__patient=grant.patient)
    places: list[models.QuerySet[Any]] = [
        visible(Encounter, access),
        visible(Procedure, access),
        visible(Immunization, access),
    ]
    for rows_with_campus in places:
        seen |= Q(pk__in=rows_with_campus.filter(campus__isnull=False).values("campus_id"))
    if may_see_appointments(access):
        seen |= Q(pk__in=appointments_of(access).values("campus_id"))
    return Campus.objects.filter(pk__in=Campus.objects.filter(seen).values("pk"))


def to_fhir(row: Campus, grant: ApiGrant) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Location",
            "id": f"campus-{row.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-location"]},
            "status": "active" if row.is_active else "inactive",
            "name": row.name,
            "alias": [row.short_name] if row.short_name != row.name else [],
            "telecom": [{"system": "phone", "value": row.main_phone, "use": "work"}]
            if row.main_phone
            else [],
            "address": {
                "line": [row.address_line],
                "city": row.city,
                "state": row.region,
                "postalCode": row.postal_code,
                "country": row.country,
            },
            "managingOrganization": organization_reference(row.pk, row.name),
        }
    )


LOCATION = registry.register(
    registry.ResourceType(
        name="Location",
        profiles=(codes.US_CORE + "us-core-location",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="campus",
        default_order=("name", "id"),
        last_updated_field="",
        includes=("Location:organization",),
        include_targets={"Location:organization": ("Organization", lambda row: row.pk)},
        search_params={
            "name": registry.SearchParam("name", "string", search.engine.string_param("name", "short_name")),
            "address": registry.SearchParam(
                "address",
                "string",
                search.engine.string_param("address_line", "city", "region", "postal_code"),
            ),
        },
    )
)
