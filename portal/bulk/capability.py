"""What the CapabilityStatement says about bulk data: the `export` operations and Group."""

from __future__ import annotations

from typing import Any

BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
INSTANTIATES = f"{BULK_DATA}/CapabilityStatement/bulk-data"


def system_operations() -> list[dict[str, Any]]:
    return [{"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"}]


def patient_operations() -> list[dict[str, Any]]:
    return [{"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/patient-export"}]


def group_resource() -> dict[str, Any]:
    return {
        "type": "Group",
        "documentation": (
            "For backend services only (SMART Backend Services system token): the patient groups "
            "the service may export. Members are not listed; quantity says how many there are."
        ),
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": "name", "type": "string", "documentation": "The start of the group's name."},
            {
                "name": "_id",
                "type": "token",
                "definition": "http://hl7.org/fhir/SearchParameter/Resource-id",
                "documentation": "The group's id.",
            },
        ],
        "operation": [{"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/group-export"}],
    }
