"""The interface-engine endpoint: POST a file, get the import report back.

Authenticated by an interface client's bearer token, not a session, so CSRF does not
apply. Answers 201 when the record changed, 200 when nothing did (or the same file came
before), 400 with a FHIR OperationOutcome listing every problem, 401 without a valid
token, 405 for other methods, 413 over PORTAL_IMPORT_MAX_BYTES, 503 if the database is
busy (try again); never 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from portal.audit.actor import Actor
from portal.audit.log import Kind, Outcome, record
from portal.fhir.clients import authenticate
from portal.fhir.importing import import_file
from portal.fhir.models import InterfaceClient
from portal.fhir.report import ImportReport

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"


def outcome(status: int, message: str, code: str = "invalid", **headers: str) -> JsonResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    response = JsonResponse(body, status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@csrf_exempt
def import_view(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return outcome(405, "Send the file with POST.", "not-supported", Allow="POST")
    actor = Actor.from_request(request)
    client = authenticate(request.headers.get("Authorization", ""))
    if client is None:
        record(
            actor, "interfaces.import", kind=Kind.DENIED, outcome=Outcome.DENIED, detail={"reason": "token"}
        )
        return outcome(401, "A valid interface token is required.", "login", WWW_Authenticate="Bearer")
    data = _body(request)
    if data is None:
        _audit(actor, client, 413, None)
        limit = settings.PORTAL_IMPORT_MAX_BYTES
        return outcome(413, f"The file is larger than the {limit} bytes accepted.", "too-costly")
    name = (request.GET.get("name") or request.headers.get("X-Filename") or "upload")[:200]
    try:
        report = import_file(data, name, f"interface:{client.name}", actor=Actor(user=None))
    except DatabaseError:
        logger.exception("Import from %s could not be stored", client.name)
        _audit(actor, client, 503, None)
        return outcome(503, "The record is busy; send the file again shortly.", "transient", Retry_After="30")
    status = 400 if report.problems else 201 if report.changed else 200
    _audit(actor, client, status, report)
    if report.problems:
        return JsonResponse(report.operation_outcome(), status=400, content_type=FHIR_JSON)
    return JsonResponse(report.as_dict(), status=status)


def _body(request: HttpRequest) -> bytes | None:
    """The request body, or None past the limit; read from the stream so Django's form limit does not apply."""
    limit = settings.PORTAL_IMPORT_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    data = request.read(limit + 1)
    return None if len(data) > limit else data


def _audit(actor: Actor, client: InterfaceClient, status: int, report: ImportReport | None) -> None:
    detail: dict[str, Any] = {"client": client.name, "status": status}
    if report is not None:
        detail |= {"digest": report.digest, "format": report.format, "problems": len(report.problems)}
    record(
        actor,
        "interfaces.import",
        kind=Kind.WRITE,
        role="system",
        obj=client,
        outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
        detail=detail,
    )
