"""Encounter: the patient's visits."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.resources import _search as search
from portal.fhir.api.resources._refs import api_out, organization_reference, patient_time
from portal.fhir.mapping.clinical import encounter_out
from portal.records.access import visible
from portal.records.models import Encounter

STATUS_SYSTEM = "http://hl7.org/fhir/encounter-status"


def _kinds_by_class() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for kind, (klass, _name) in codes.CLASS_BY_VISIT_KIND.items():
        table.setdefault(klass, []).append(kind)
    return table


def rows(grant: ApiGrant) -> models.QuerySet[Encounter]:
    return visible(Encounter, grant.access).select_related("campus")


def to_fhir(row: Encounter, grant: ApiGrant) -> dict[str, Any]:
    with patient_time(grant):
        resource = encounter_out(row, api_out(grant))  # type: ignore[arg-type]
    # The visit's people and place as resources the patient may read, not only as names.
    if row.practitioner_id and resource.get("participant"):
        resource["participant"][0]["individual"]["reference"] = (
            f"Practitioner/practitioner-{row.practitioner_id}"
        )
    if row.campus_id and resource.get("location"):
        resource["location"][0]["location"]["reference"] = f"Location/campus-{row.campus_id}"
    provider = organization_reference(row.campus_id, row.campus.name if row.campus else "")
    if provider is not None:
        resource["serviceProvider"] = provider
    return resource


ENCOUNTER = registry.register(
    registry.ResourceType(
        name="Encounter",
        profiles=(codes.US_CORE + "us-core-encounter",),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="encounter",
        default_order=("-started_at", "-id"),
        sorts={"date": ("started_at", "id")},
        includes=("Encounter:practitioner", "Encounter:location", "Encounter:service-provider"),
        include_targets={
            "Encounter:practitioner": ("Practitioner", lambda row: row.practitioner_id),
            "Encounter:location": ("Location", lambda row: row.campus_id),
            "Encounter:service-provider": ("Organization", lambda row: row.campus_id),
        },
        search_params={
            "patient": registry.SearchParam("patient", "reference", search.patient_reference()),
            "date": registry.SearchParam(
                "date",
                "date",
                search.date_param("started_at", is_datetime=True),
                "when the visit started",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-encounter-date",
            ),
            "status": registry.SearchParam(
                "status",
                "token",
                search.choice_token("status", {STATUS_SYSTEM: search.same_codes(Encounter.Status.values)}),
                "finished | in-progress | cancelled",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-encounter-status",
            ),
            "class": registry.SearchParam(
                "class",
                "token",
                search.choice_token("kind", {codes.ACT_CODE: _kinds_by_class()}),
                "v3 ActCode: AMB, VR, IMP, EMER...",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-encounter-class",
            ),
            "type": registry.SearchParam(
                "type",
                "token",
                search.choice_token(
                    "kind", {codes.PORTAL_VISIT_KIND: search.same_codes(Encounter.Kind.values)}
                ),
                "the portal's visit kind",
                "http://hl7.org/fhir/us/core/SearchParameter/us-core-encounter-type",
            ),
        },
    )
)
