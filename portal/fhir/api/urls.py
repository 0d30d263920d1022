"""The FHIR R4 API: /fhir/r4/ (metadata, SMART discovery, read and search)."""

from __future__ import annotations

app_name = "fhir_api"
urlpatterns: list[object] = []
