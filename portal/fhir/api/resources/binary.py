"""Binary: the text of a clinical note that a DocumentReference points at (read only).

The rows are the same notes DocumentReference serves, under the same access checks, so
an app can read no content whose DocumentReference it could not read. The engine answers
`content(row)` as raw bytes when the client does not ask for FHIR JSON, else `to_fhir`.
"""

from __future__ import annotations

import base64
from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiGrant
from portal.records.access import visible
from portal.records.models import ClinicalNote

CONTENT_TYPE = "text/plain; charset=utf-8"


def rows(grant: ApiGrant) -> models.QuerySet[ClinicalNote]:
    return visible(ClinicalNote, grant.access)


def content(row: ClinicalNote) -> tuple[bytes, str]:
    """The raw bytes and their content type."""
    return row.body.encode(), CONTENT_TYPE


def to_fhir(row: ClinicalNote, grant: ApiGrant) -> dict[str, Any]:
    data, content_type = content(row)
    resource: dict[str, Any] = {
        "resourceType": "Binary",
        "id": f"clinicalnote-{row.pk}",
        "contentType": content_type,
        "data": base64.b64encode(data).decode(),
    }
    labels = codes.security_labels(row.sensitivity)
    if labels:
        resource["meta"] = {"security": labels}
    return resource


BINARY = registry.register(
    registry.ResourceType(
        name="Binary",
        profiles=(),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="clinicalnote",
        default_order=("-written_at", "-id"),
    )
)
