"""Organization: the clinic at each of its campuses, as US Core Organization.

The clinic's campuses are public facts (names, addresses, phone numbers on every page of
the portal), not the patient's record: any valid token with the scope reads and searches
all of them, whoever its patient, and nothing about a patient can be learnt from them.
The other resources refer to the campus that served the patient (`Encounter.serviceProvider`,
`Location.managingOrganization`, `CareTeam.managingOrganization`,
`Patient.managingOrganization`); `Patient/$everything` lists only those, the campuses
`Location` serves for the grant, so that it says nothing the patient's own resources do not.

The portal keeps no name, NPI or address for the clinic as a whole apart from its
campuses, so there is no separate whole-clinic Organization.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources.location import rows as places_of_care
from portal.fhir.api.search import ServedType
from portal.fhir.mapping.common import clean
from portal.organization.models import Campus

CAMPUS_SYSTEM = "urn:portal:campus"
ORGANIZATION_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/organization-type",
    "code": "prov",
    "display": "Healthcare Provider",
}


def rows(grant: ApiGrant) -> models.QuerySet[Campus]:
    return Campus.objects.all()


def to_fhir(row: Campus, grant: ApiGrant) -> dict[str, Any]:
    phones = [
        (row.main_phone, 1),
        (row.appointments_phone, 2),
    ]
    return clean(
        {
            "resourceType": "Organization",
            "id": f"campus-{row.pk}",
            "meta": {"profile": [codes.US_CORE + "us-core-organization"]},
            "identifier": [{"system": CAMPUS_SYSTEM, "value": row.slug}],
            "active": row.is_active,
            "type": [{"coding": [ORGANIZATION_TYPE]}],
            "name": row.name,
            "alias": [row.short_name] if row.short_name != row.name else [],
            "telecom": [
                {"system": "phone", "value": number, "use": "work", "rank": rank}
                for number, rank in phones
                if number
            ],
            "address": [
                {
                    "use": "work",
                    "line": [row.address_line],
                    "city": row.city,
                    "state": row.region,
                    "postalCode": row.postal_code,
                    "country": row.country,
                }
            ],
        }
    )


ORGANIZATION = registry.register(
    ServedType(
        name="Organization",
        profiles=(codes.US_CORE + "us-core-organization",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="campus",
        default_order=("name", "id"),
        sorts={"name": ("name", "id")},
        last_updated_field="",
        everything_rows=places_of_care,
        documentation=(
            "The clinic at each of its campuses, readable by any patient's token (public facts). "
            "Patient/$everything lists only the campuses of the patient's care."
        ),
        search_params={
            "name": registry.SearchParam(
                "name",
                "string",
                search.engine.string_param("name", "short_name"),
                "the start of the campus's name or short name",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-organization-name",
            ),
            "address": registry.SearchParam(
                "address",
                "string",
                search.engine.string_param("address_line", "city", "region", "postal_code", "country"),
                "the start of the street address, city, state, postal code or country",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-organization-address",
            ),
            "identifier": registry.SearchParam(
                "identifier",
                "token",
                search.code_token("slug", systems=[CAMPUS_SYSTEM]),
                f"the campus's code ({CAMPUS_SYSTEM}|<code>)",
            ),
            "active": registry.SearchParam(
                "active",
                "token",
                search.choice_token("is_active", {"": {"true": [True], "false": [False]}}),
                "true | false",
            ),
        },
    )
)
