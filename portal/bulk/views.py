"""FHIR Bulk Data export (IG v2) for backend services: kick-off, status, files, and Group.

Kick-off (`[base]/$export`, `[base]/Patient/$export`, `[base]/Group/<id>/$export`) checks
the request and queues an `ExportJob`, answering 202 with the status URL in
`Content-Location`. The status URL answers 202 with `X-Progress` while the worker writes,
the manifest when done, a 500 OperationOutcome when the export failed (the IG's way of
saying so), and 404 once deleted or expired; DELETE cancels. Files stream with the same
service's bearer token. Every refusal is an OperationOutcome; only the service that
started a job ever learns it exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from portal.bulk import (
    export,
    groups,
    phrases,  # noqa: F401  (the access log's words for an export)
)
from portal.bulk.auth import SystemGrant, authenticate_system
from portal.bulk.group import group_resource
from portal.bulk.models import BackendService, ExportFile, ExportJob, PatientGroup
from portal.bulk.sources import NOT_EXPORTED, exportable
from portal.bulk.tasks import run_export
from portal.fhir.api.auth import ApiError
from portal.fhir.api.bundles import Searchset
from portal.fhir.api.outcome import error_response, fhir_response, issue, outcome
from portal.fhir.api.views import api_view

View = Callable[..., HttpResponseBase]
OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
SUPPORTED = frozenset({"_outputFormat", "_type", "_since"})
RETRY_AFTER_SECONDS = 10
# A FHIR instant: to the second at least, always with a zone.
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
SCOPE = re.compile(r"^system/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<perms>read|\*|[cruds]{1,5})$")


def bulk_view(*methods: str) -> Callable[[View], View]:
    """Method check and every refusal as an OperationOutcome (no content negotiation: files are NDJSON)."""

    def decorate(view: View) -> View:
        @csrf_exempt  # bearer tokens, not cookies
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                allowed = ", ".join(methods)
                return error_response(
                    405, f"{request.method} is not supported here."[:100], "not-supported", {"Allow": allowed}
                )
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                headers = {"Retry-After": str(RETRY_AFTER_SECONDS * 6)} if error.status == 429 else None
                return error_response(error.status, error.message, error.code, headers)

        return wrapped

    return decorate


# Scopes ---------------------------------------------------------------------------------


def readable(grant: SystemGrant, resource_type: str) -> bool:
    """Whether the token's system scopes let it read the type (v1 `.read`/`.*`, v2 with `r`).

    A scope with a granular `?query` restriction is not honoured by an export (it cannot
    filter the rows the way a search would), so it does not count.
    """
    for scope in grant.scopes:
        match = SCOPE.match(scope)
        if match is None or match["type"] not in ("*", resource_type):
            continue
        if match["perms"] in ("read", "*") or "r" in match["perms"]:
            return True
    return False


# Kick-off ---------------------------------------------------------------------------------


@bulk_view("GET")
def export_system(request: HttpRequest) -> HttpResponse:
    grant = authenticate_system(request)
    if not grant.service.all_patients:
        raise ApiError(
            403, "This service may not export every patient; export its groups instead.", "forbidden"
        )
    return _kick_off(request, grant, ExportJob.Level.SYSTEM)


@bulk_view("GET")
def export_patients(request: HttpRequest) -> HttpResponse:
    grant = authenticate_system(request)
    return _kick_off(request, grant, ExportJob.Level.PATIENT)


@bulk_view("GET")
def export_group(request: HttpRequest, group_id: str) -> HttpResponse:
    grant = authenticate_system(request)
    group = groups.group_of(grant.service, group_id)
    if group is None:
        raise ApiError(404, f"Group/{group_id[:80]} is not known.", "not-found")
    return _kick_off(request, grant, ExportJob.Level.GROUP, group)


def _lenient(request: HttpRequest) -> bool:
    prefer = request.headers.get("Prefer", "").lower()
    return "handling=lenient" in {part.strip() for part in re.split(r"[,;]", prefer)}


def _check_headers(request: HttpRequest) -> None:
    accepted = {part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")}
    if "application/fhir+json" not in accepted:
        raise ApiError(400, "A kick-off request needs the header Accept: application/fhir+json.", "invalid")
    prefer = {part.strip().lower() for part in re.split(r"[,;]", request.headers.get("Prefer", ""))}
    if "respond-async" not in prefer:
        raise ApiError(400, "A kick-off request needs the header Prefer: respond-async.", "invalid")


def _kick_off(
    request: HttpRequest, grant: SystemGrant, level: str, group: PatientGroup | None = None
) -> HttpResponse:
    _check_headers(request)
    lenient = _lenient(request)
    warnings: list[str] = []
    types = _types(request, grant, lenient, warnings)
    since = _since(request)
    _output_format(request)
    for name in request.GET:
        if name not in SUPPORTED and not (
            name == "_format" and request.GET.get(name) in ("json", "application/fhir+json")
        ):
            if not lenient:
                raise ApiError(
                    400,
                    f"The parameter {name[:60]} is not supported (send Prefer: handling=lenient to ignore it).",
                    "not-supported",
                )
            warnings.append(f"The parameter {name[:60]} is not supported and was ignored.")
    job = _queue(grant.service, level, group, types, since, request.build_absolute_uri()[:4000])
    if warnings:
        _write_warnings(job, warnings)
    run_export.enqueue(job.pk)  # after the job committed; the test settings run it here and now
    status_url = request.build_absolute_uri(reverse("fhir_api:bulk_status", args=[job.pk]))
    accepted = outcome([issue("information", "informational", "The export has started.")])
    return fhir_response(accepted, 202, {"Content-Location": status_url})


def _values(request: HttpRequest, name: str) -> list[str]:
    """A parameter's values, repeated parameters read as one comma-separated list (the IG's rule)."""
    return [part.strip() for value in request.GET.getlist(name) for part in value.split(",") if part.strip()]


def _types(request: HttpRequest, grant: SystemGrant, lenient: bool, warnings: list[str]) -> list[str]:
    kinds = exportable()
    asked = _values(request, "_type")
    if not asked:
        types = [name for name in kinds if readable(grant, name)]
        if not types:
            raise ApiError(
                403, "The access token's scopes cover no resource type this server exports.", "forbidden"
            )
        return types
    types = []
    for name in dict.fromkeys(asked):
        if name not in kinds:
            reason = NOT_EXPORTED.get(name, f"The resource type {name[:64]} is not exported by this server.")
            if not lenient:
                raise ApiError(400, reason, "not-supported")
            warnings.append(reason + " It was left out.")
        elif not readable(grant, name):
            raise ApiError(403, f"The access token's scopes do not cover {name}.", "forbidden")
        else:
            types.append(name)
    if not types:
        raise ApiError(400, "None of the requested types can be exported.", "not-supported")
    return types


def _since(request: HttpRequest) -> dt.datetime | None:
    values = request.GET.getlist("_since")
    if not values:
        return None
    value = values[0].strip()
    invalid = ApiError(400, "_since must be one FHIR instant, such as 2026-01-31T09:30:00Z.", "invalid")
    if len(values) > 1 or not INSTANT.match(value):
        raise invalid
    try:
        # In UTC now: an instant at the calendar's edge (year 9999 at -14:00) cannot be stored.
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except (ValueError, OverflowError) as error:
        raise invalid from error


def _output_format(request: HttpRequest) -> None:
    for value in request.GET.getlist("_outputFormat"):
        if value.strip().lower() not in OUTPUT_FORMATS:
            raise ApiError(400, "_outputFormat must be application/fhir+ndjson (or ndjson).", "not-supported")


def _queue(
    service: BackendService,
    level: str,
    group: PatientGroup | None,
    types: list[str],
    since: dt.datetime | None,
    request_url: str,
) -> ExportJob:
    """A new QUEUED job, unless the service already has as many under way as it may.

    The service's row is locked while counting, so two kick-offs at once cannot both take
    the last place (IMMEDIATE transactions on SQLite serialise the same way).
    """
    limit = max(1, int(settings.PORTAL_BULK_EXPORT_MAX_JOBS))
    with transaction.atomic():
        BackendService.objects.select_for_update().filter(pk=service.pk).first()
        under_way = ExportJob.objects.filter(
            service=service, status__in=(ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
        ).count()
        if under_way >= limit:
            raise _TooMany
        return ExportJob.objects.create(
            service=service,
            level=level,
            group=group,
            types=" ".join(types),
            since=since,
            request_url=request_url,
        )


class _TooMany(ApiError):
    def __init__(self) -> None:
        super().__init__(
            429, "Too many exports are under way for this service; try again later.", "throttled"
        )


def _write_warnings(job: ExportJob, warnings: list[str]) -> None:
    """The IG's `error` file: an OperationOutcome for each parameter a lenient request had ignored."""
    directory = export.job_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "OperationOutcome-1.ndjson"
    lines = [orjson.dumps(outcome([issue("warning", "not-supported", text)])) + b"\n" for text in warnings]
    path.write_bytes(b"".join(lines))
    ExportFile.objects.create(
        job=job,
        resource_type="OperationOutcome",
        name=str(path.relative_to(export.export_root())),
        count=len(lines),
        size=path.stat().st_size,
    )


# Status and files ------------------------------------------------------------------------


def _job_of(grant: SystemGrant, job_id: int) -> ExportJob:
    """The service's own job, or the 404 a missing, deleted or expired one gets."""
    job = (
        ExportJob.objects.filter(pk=job_id, service=grant.service)
        .exclude(status=ExportJob.Status.CANCELLED)
        .first()
    )
    if job is None or (job.expires_at is not None and job.expires_at <= timezone.now()):
        raise ApiError(404, "There is no such export (it may have been deleted or expired).", "not-found")
    return job


@bulk_view("GET", "DELETE")
def status(request: HttpRequest, job_id: int) -> HttpResponse:
    grant = authenticate_system(request)
    job = _job_of(grant, job_id)
    if request.method == "DELETE":
        return _cancel(job)
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = (job.progress or "Queued")[:99]
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if job.status == ExportJob.Status.FAILED:
        return error_response(500, job.error or "The export failed.", "exception")
    return _manifest(request, grant, job)


def _cancel(job: ExportJob) -> HttpResponse:
    ExportJob.objects.filter(pk=job.pk).exclude(status=ExportJob.Status.CANCELLED).update(
        status=ExportJob.Status.CANCELLED, finished_at=timezone.now()
    )
    # A running worker notices at its next progress write and removes what it wrote since.
    export.remove_files(job)
    done = outcome([issue("information", "informational", "The export was cancelled and its files deleted.")])
    return fhir_response(done, 202)


def _manifest(request: HttpRequest, grant: SystemGrant, job: ExportJob) -> HttpResponse:
    transaction_time, expires = export.manifest_times(job)
    files = list(job.files.order_by("resource_type", "sequence"))

    def item(file: ExportFile) -> dict[str, Any]:
        url = request.build_absolute_uri(reverse("fhir_api:bulk_file", args=[file.pk]))
        return {"type": file.resource_type, "url": url, "count": file.count}

    body = {
        "transactionTime": transaction_time,
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [item(file) for file in files if file.resource_type != "OperationOutcome"],
        "error": [item(file) for file in files if file.resource_type == "OperationOutcome"],
    }
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    response["Expires"] = expires
    return response


@bulk_view("GET")
def download(request: HttpRequest, file_id: int) -> HttpResponseBase:
    grant = authenticate_system(request)
    missing = ApiError(
        404, "There is no such file (its export may have been deleted or expired).", "not-found"
    )
    file = (
        ExportFile.objects.select_related("job")
        .filter(
            pk=file_id,
            job__service=grant.service,
            job__status=ExportJob.Status.COMPLETE,
            job__expires_at__gt=timezone.now(),
        )
        .first()
    )
    if file is None:
        raise missing
    if file.resource_type != "OperationOutcome" and not readable(grant, file.resource_type):
        raise ApiError(403, f"The access token's scopes do not cover {file.resource_type}.", "forbidden")
    root = export.export_root().resolve()
    path = (root / file.name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise missing
    # FileResponse closes the file when the response is done streaming it.
    response = FileResponse(path.open("rb"), content_type=export.NDJSON)
    response["Content-Length"] = str(file.size)
    return response


# Group ------------------------------------------------------------------------------------


@api_view("GET")
def group_read(request: HttpRequest, group_id: str) -> HttpResponse:
    grant = authenticate_system(request)
    group = groups.group_of(grant.service, group_id)
    if group is None:
        raise ApiError(404, f"Group/{group_id[:80]} is not known.", "not-found")
    return fhir_response(group_resource(group, groups.members(group).count()))


@api_view("GET")
def group_search(request: HttpRequest) -> HttpResponse:
    """The groups the service may export, by name (`name`, a case-insensitive start) or `_id`.

    One count per group for `quantity`: staff define a handful of groups per service.
    """
    grant = authenticate_system(request)
    found = groups.groups_of(grant.service).select_related("campus", "care_team")
    ignored = []
    for name, values in request.GET.lists():
        if name == "name":
            for value in values:
                found = found.filter(name__istartswith=value.strip()[:150])
        elif name == "_id":
            ids = [item.strip().removeprefix("group-") for value in values for item in value.split(",")]
            found = found.filter(
                pk__in=[int(item) for item in ids if item.isascii() and item.isdigit() and len(item) < 18]
            )
        elif name != "_format":
            ignored.append(name[:60])
    if ignored and "handling=strict" in request.headers.get("Prefer", "").lower():
        raise ApiError(400, f"Not supported: {', '.join(ignored)}", "not-supported")
    base = request.build_absolute_uri(reverse("fhir_api:metadata")).removesuffix("metadata")
    bundle = Searchset(base)
    for group in found[:200]:
        bundle.add(group_resource(group, groups.members(group).count()))
    bundle.link("self", "Group", [(name, value) for name, values in request.GET.lists() for value in values])
    bundle.warn(ignored)
    return fhir_response(bundle.bundle())
