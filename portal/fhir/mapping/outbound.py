"""What an exported resource needs to know about the rest of the bundle: how to refer to other rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from portal.fhir import codes

# Fixed so the same row gets the same fullUrl in every export.
EXPORT_NAMESPACE = uuid.UUID("5b0f7c52-7d0e-4c57-9a51-6a3c1c6f3a10")


def full_url(row: models.Model) -> str:
    return f"urn:uuid:{uuid.uuid5(EXPORT_NAMESPACE, f'{row._meta.label_lower}:{row.pk}')}"


def resource_id(row: models.Model) -> str:
    return f"{row._meta.model_name}-{row.pk}"


@dataclass
class Out:
    """The bundle being built: the patient's fullUrl and the rows it holds, by (label, pk)."""

    patient_url: str
    included: dict[tuple[str, int], str] = field(default_factory=dict)

    def add(self, row: models.Model) -> str:
        url = full_url(row)
        self.included[(row._meta.label_lower, int(row.pk))] = url
        return url

    def reference(self, label: str, pk: int | None) -> dict[str, str] | None:
        """A reference to a row of this bundle; None when the row is not in it (no dangling links)."""
        url = self.included.get((label, pk)) if pk is not None else None
        return {"reference": url} if url else None

    @property
    def subject(self) -> dict[str, str]:
        return {"reference": self.patient_url}


def identifiers(row: Any) -> list[dict[str, str]]:
    """The row's source id, so importing the export updates the same row in place."""
    return [{"system": codes.PORTAL_SOURCE_ID, "value": row.source_id}] if row.source_id else []
