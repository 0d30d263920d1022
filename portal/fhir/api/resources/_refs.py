"""What every resource module needs around a mapper: RESTful references and the patient's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from django.utils import timezone

from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.refs import ApiOut


def api_out(grant: ApiGrant) -> ApiOut:
    """The engine's RESTful references (`refs.ApiOut`) for the grant's patient."""
    return ApiOut.for_patient(grant.patient)


@contextmanager
def patient_time(grant: ApiGrant) -> Iterator[None]:
    """Instants written with the offset of the patient's campus, as the record's pages show them."""
    with timezone.override(ZoneInfo(grant.patient.primary_campus.time_zone)):
        yield
