"""The FHIR Group a backend service exports: one `PatientGroup`, described by its rule.

Served only to backend services (a patient's token never sees a Group). Members are not
listed (a group may hold tens of thousands of patients, and its rule is the truth of who
is in it today); `quantity` says how many there are, and `characteristic` says the rule.
"""

from __future__ import annotations

from typing import Any

from portal.bulk.models import PatientGroup
from portal.fhir.mapping.common import clean

GROUP_IDS = "urn:portal:bulk-group"


def public_id(group: PatientGroup) -> str:
    return f"group-{group.pk}"


def group_resource(group: PatientGroup, quantity: int) -> dict[str, Any]:
    """A Group of actual patients (`type` person, `actual` true) with its size and rule."""
    rule: list[dict[str, Any]] = []
    if group.campus is not None:
        rule.append(
            {
                "code": {"text": "Home campus"},
                "valueReference": {
                    "reference": f"Location/campus-{group.campus.pk}",
                    "display": group.campus.name,
                },
                "exclude": False,
            }
        )
    if group.care_team is not None:
        rule.append(
            {
                "code": {"text": "In the care of"},
                "valueReference": {
                    "reference": f"CareTeam/careteam-{group.care_team.pk}",
                    "display": group.care_team.name,
                },
                "exclude": False,
            }
        )
    return clean(
        {
            "resourceType": "Group",
            "id": public_id(group),
            "identifier": [{"system": GROUP_IDS, "value": str(group.pk)}],
            "active": True,
            "type": "person",
            "actual": True,
            "name": group.name,
            "quantity": quantity,
            "characteristic": rule,
        }
    )
