"""FHIR responses: JSON with the FHIR media type, and every error as an OperationOutcome."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

FHIR_JSON = "application/fhir+json; charset=utf-8"


def issue(severity: str, code: str, message: str, expression: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        found["expression"] = [expression]
    return found


def outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_response(
    resource: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(resource, ensure_ascii=False, separators=(",", ":")), status=status, content_type=FHIR_JSON
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def error_response(
    status: int, message: str, code: str = "processing", headers: dict[str, str] | None = None
) -> HttpResponse:
    """An OperationOutcome with one error issue; 401s carry the Bearer challenge."""
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="fhir", error="invalid_token"')
    return fhir_response(outcome([issue("error", code, message)]), status, extra)
