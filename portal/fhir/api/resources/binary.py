"""Binary: the content a DocumentReference points at (read by id only).

`Binary/clinicalnote-<pk>` is a clinical note's text, `Binary/document-<pk>` a stored
file. The rows are the same ones DocumentReference serves, under the same access checks,
so an app can read no content whose DocumentReference it could not read. A read answers
FHIR JSON (base64 `data`) when the client asks for it, else the content itself as a
download (`native`), as the FHIR specification's Binary read says.
"""

from __future__ import annotations

import base64
import io
from pathlib import PurePath
from typing import Any

from django.db import models

from portal.fhir import codes
from portal.fhir.api import registry
from portal.fhir.api.auth import ApiError, ApiGrant
from portal.fhir.api.search import Native, ServedType
from portal.records.access import visible
from portal.records.models import ClinicalNote, Document

CONTENT_TYPE = "text/plain; charset=utf-8"


def _binary(
    resource_id: str, content_type: str, data: bytes, sensitivity: str, source: str
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Binary",
        "id": resource_id,
        "contentType": content_type,
        # Who may read this content is decided by the DocumentReference it belongs to.
        "securityContext": {"reference": f"DocumentReference/{source}"},
        "data": base64.b64encode(data).decode(),
    }
    labels = codes.security_labels(sensitivity)
    if labels:
        resource["meta"] = {"security": labels}
    return resource


# Clinical notes ------------------------------------------------------------------------------


def rows(grant: ApiGrant) -> models.QuerySet[ClinicalNote]:
    return visible(ClinicalNote, grant.access)


def content(row: ClinicalNote) -> tuple[bytes, str]:
    """The raw bytes and their content type."""
    return row.body.encode(), CONTENT_TYPE


def to_fhir(row: ClinicalNote, grant: ApiGrant) -> dict[str, Any]:
    data, content_type = content(row)
    name = f"clinicalnote-{row.pk}"
    return _binary(name, content_type, data, row.sensitivity, name)


def note_native(row: ClinicalNote) -> Native:
    data, content_type = content(row)
    return Native(content_type, f"{row.title}-{row.written_at:%Y-%m-%d}.txt", lambda: io.BytesIO(data))


# Stored documents ----------------------------------------------------------------------------


def document_rows(grant: ApiGrant) -> models.QuerySet[Document]:
    return visible(Document, grant.access)


def document_native(row: Document) -> Native:
    suffix = PurePath(row.file.name or "").suffix.lower()[:10]
    return Native(
        row.content_type or "application/octet-stream",
        f"{row.title}-{row.dated_on:%Y-%m-%d}{suffix}",
        lambda: row.file.open("rb"),
    )


def document_to_fhir(row: Document, grant: ApiGrant) -> dict[str, Any]:
    name = f"document-{row.pk}"
    try:
        with document_native(row).open() as handle:
            data = handle.read()
    except (OSError, ValueError):
        raise ApiError(404, f"The file of Binary/{name} is not available.", "not-found") from None
    return _binary(name, row.content_type or "application/octet-stream", data, row.sensitivity, name)


DOCUMENTS = ServedType(
    name="Binary",
    profiles=(),
    rows=document_rows,
    to_fhir=document_to_fhir,
    id_prefix="document",
    default_order=("-dated_on", "-id"),
    searchable=False,
    native=document_native,
)

BINARY = registry.register(
    ServedType(
        name="Binary",
        profiles=(),
        rows=rows,
        to_fhir=to_fhir,
        id_prefix="clinicalnote",
        default_order=("-written_at", "-id"),
        more=(DOCUMENTS,),
        searchable=False,
        native=note_native,
        documentation=(
            "Read only, by the id a DocumentReference's content.attachment.url gives. With Accept "
            "application/fhir+json (or _format=json) the answer is a Binary resource; otherwise the "
            "content itself, as a download in its own content type."
        ),
    )
)
