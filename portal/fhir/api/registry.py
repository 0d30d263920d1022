"""The resource types the FHIR API serves, each described once; the engine (views, search,
paging, CapabilityStatement) works from these descriptions only.

A `ResourceType` says how to list the rows one grant may see (always through
`records/access.py` or the app's own access helpers, so release rules and an
adolescent's confidential categories apply as on the pages), how to turn a row into a
FHIR resource, and which search parameters narrow the list. Register each with
`register(...)` in a module under `portal/fhir/api/resources/`, imported by
`resources/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from portal.fhir.api.auth import ApiGrant

# A search parameter's values (repeated parameters AND, comma-separated values OR) applied
# to a queryset; raise `SearchError` for a value it cannot read.
Apply = Callable[[models.QuerySet[Any], list[list[str]]], models.QuerySet[Any]]


class SearchError(Exception):
    """A search parameter value the server cannot read (answered 400 with an OperationOutcome)."""


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR search param type: token, date, reference, string, number, uri
    apply: Apply
    documentation: str = ""
    definition: str = ""  # canonical SearchParameter URL (US Core's where it has one)


@dataclass(frozen=True)
class ResourceType:
    """One FHIR resource type as the API serves it."""

    name: str  # e.g. "Observation"
    profiles: tuple[str, ...]  # US Core profiles its resources claim
    rows: Callable[[ApiGrant], models.QuerySet[Any]]  # everything the grant may see, for one patient
    to_fhir: Callable[[Any, ApiGrant], dict[str, Any]]  # one row as a JSON-ready resource
    # Public ids look like "observation-12"; the row's pk is parsed from them.
    id_prefix: str = ""
    search_params: dict[str, SearchParam] = field(default_factory=dict)
    default_order: tuple[str, ...] = ("-id",)
    sorts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # _sort name -> order_by fields
    last_updated_field: str = "updated_at"
    includes: tuple[str, ...] = ()  # supported _include values, e.g. "MedicationRequest:medication"
    # How the engine resolves each of `includes`: the target resource type's name and the
    # target row's pk for one row (None when the row names none). The engine loads the
    # targets only through the target type's own `rows(grant)`, so an include never
    # reaches a row the grant could not read directly.
    include_targets: dict[str, tuple[str, Callable[[Any], int | None]]] = field(default_factory=dict)


_registry: dict[str, ResourceType] = {}


def register(resource_type: ResourceType) -> ResourceType:
    _registry[resource_type.name] = resource_type
    return resource_type


def resource_types() -> dict[str, ResourceType]:
    from portal.fhir.api import resources  # noqa: F401  (registers every type)

    return dict(sorted(_registry.items()))
