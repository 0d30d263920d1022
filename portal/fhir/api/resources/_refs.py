"""What every resource module needs around a mapper: RESTful references and the patient's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import F
from django.utils import timezone

from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import ApiOut
from portal.fhir.mapping.common import moment_text

M = TypeVar("M", bound=models.Model)


def api_out(grant: ApiGrant) -> ApiOut:
    """The engine's RESTful references (`refs.ApiOut`) for the grant's patient."""
    return ApiOut.for_patient(grant.patient)


@contextmanager
def patient_time(grant: ApiGrant) -> Iterator[None]:
    """Instants written with the offset of the patient's campus, as the record's pages show them."""
    with timezone.override(ZoneInfo(grant.patient.primary_campus.time_zone)):
        yield


# References to the clinic's own resources, which the export's mappers name only in words.


def practitioner_reference(pk: int | None, display: str = "") -> dict[str, str] | None:
    if pk is None:
        return None
    found = {"reference": f"Practitioner/practitioner-{pk}"}
    return found | ({"display": display} if display else {})


def location_reference(pk: int | None, display: str = "") -> dict[str, str] | None:
    if pk is None:
        return None
    found = {"reference": f"Location/campus-{pk}"}
    return found | ({"display": display} if display else {})


def organization_reference(pk: int | None, display: str = "") -> dict[str, str] | None:
    if pk is None:
        return None
    found = {"reference": f"Organization/campus-{pk}"}
    return found | ({"display": display} if display else {})


# A row the grant sees may belong to a visit it may not see (an adolescent's confidential
# care, hidden from a parent). The row then names no visit: not its id, nor its dates.


def with_visit(rows: models.QuerySet[M]) -> models.QuerySet[M]:
    """Rows with what a resource says of their visit (`encounter`): its category and dates."""
    return rows.annotate(
        api_visit_sensitivity=F("encounter__sensitivity"),
        api_visit_start=F("encounter__started_at"),
        api_visit_end=F("encounter__ended_at"),
    )


def visit_hidden(row: Any, grant: ApiGrant) -> bool:
    """Whether the row's visit is one the grant may not see (rows from `with_visit`)."""
    category = getattr(row, "api_visit_sensitivity", None) or ""
    return bool(category) and grant.access.hides(category)


def visit_period(row: Any) -> dict[str, str | None]:
    """The row's visit's period (rows from `with_visit`), in the current time zone."""
    return {
        "start": moment_text(getattr(row, "api_visit_start", None)),
        "end": moment_text(getattr(row, "api_visit_end", None)),
    }


def drop_hidden_visit(resource: dict[str, Any], row: Any, grant: ApiGrant) -> dict[str, Any]:
    """Leave out the visit a resource names (`encounter`, `context.encounter`) when it is hidden."""
    if not visit_hidden(row, grant):
        return resource
    resource.pop("encounter", None)
    context = resource.get("context")
    if isinstance(context, dict):
        context.pop("encounter", None)
        context.pop("period", None)
        if not context:
            resource.pop("context")
    return resource
