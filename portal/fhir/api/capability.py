"""The CapabilityStatement at /fhir/r4/metadata, generated from the registered resource types,
so it says exactly what the engine serves."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from portal.bulk import capability as bulk
from portal.fhir.api.registry import ResourceType, resource_types
from portal.fhir.api.search import common_params, documentation_of, is_searchable

# When this statement's shape last changed (CapabilityStatement.date is required).
STATEMENT_DATE = "2026-11-24"
SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
COMMON_PARAMS = (
    ("_id", "token", "http://hl7.org/fhir/SearchParameter/Resource-id", "The resource's id."),
    (
        "_lastUpdated",
        "date",
        "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
        "When the resource last changed, with prefixes eq, ne, lt, gt, le, ge, sa, eb, ap.",
    ),
)
# Result parameters every search takes (rest.searchParam: "for searching all resources").
TOTAL_TEXT = (
    "none | estimate | accurate. Bundle.total is given only for accurate (a count of the "
    "patient's matching rows); none and estimate leave it out."
)


def _result_params() -> list[dict[str, str]]:
    size, most = settings.PORTAL_FHIR_PAGE_SIZE, settings.PORTAL_FHIR_MAX_PAGE_SIZE
    return [
        {
            "name": "_count",
            "type": "number",
            "documentation": f"Page size: {size} unless asked, at most {most}.",
        },
        {"name": "_total", "type": "token", "documentation": TOTAL_TEXT},
    ]


REST_DOCUMENTATION = (
    "Read and search only. Every request needs a SMART bearer token bound to one patient. "
    "Unknown parameters are ignored and reported in an OperationOutcome entry (a 400 with "
    "Prefer: handling=strict). _revinclude is not supported: the portal keeps no Provenance "
    "(who wrote or imported each row), so _revinclude=Provenance:target is reported as ignored. "
    "Goal is not served: the portal records no goals."
)


def capability_statement(base: str, site: str) -> dict[str, Any]:
    """`base` is the API's absolute URL (".../fhir/r4/"); `site` the server's root ("https://host")."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "Patient portal",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server", bulk.INSTANTIATES],
        "software": {"name": "Patient portal FHIR API"},
        "implementation": {"description": "Patient access API (read-only, SMART App Launch)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": REST_DOCUMENTATION,
                "security": _security(site),
                "resource": [*(_resource(kind) for kind in resource_types().values()), bulk.group_resource()],
                "operation": bulk.system_operations(),
                "searchParam": _result_params(),
            }
        ],
    }


def _security(site: str) -> dict[str, Any]:
    return {
        "cors": True,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": SMART_OAUTH_URIS,
                "extension": [
                    {"url": "authorize", "valueUri": f"{site}/oauth/authorize/"},
                    {"url": "token", "valueUri": f"{site}/oauth/token/"},
                ],
            }
        ],
    }


def _resource(kind: ResourceType) -> dict[str, Any]:
    params = [
        {
            "name": name,
            "type": param.type,
            "definition": param.definition,
            "documentation": param.documentation,
        }
        for name, param in kind.search_params.items()
    ]
    params += [
        {"name": name, "type": kind_, "definition": definition, "documentation": text}
        for name, kind_, definition, text in COMMON_PARAMS
        if name not in kind.search_params and name in common_params(kind)
    ]
    searchable = is_searchable(kind)
    sorts = [name for name in kind.sorts if not name.startswith("-")]
    if searchable and sorts:
        sort_text = ", ".join(sorts)
        params.append(
            {
                "name": "_sort",
                "type": "special",
                "definition": "",
                "documentation": f"Sort by: {sort_text} (a leading - reverses; comma-separated for several).",
            }
        )
    found: dict[str, Any] = {
        "type": kind.name,
        "supportedProfile": list(kind.profiles),
        "documentation": documentation_of(kind),
        "interaction": [{"code": "read"}, {"code": "search-type"}] if searchable else [{"code": "read"}],
        "searchInclude": list(kind.includes) if searchable else [],
        "searchParam": [{key: value for key, value in param.items() if value} for param in params]
        if searchable
        else [],
    }
    if kind.name == "Patient":
        found["operation"] = [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            },
            *bulk.patient_operations(),
        ]
    return {key: value for key, value in found.items() if value}
