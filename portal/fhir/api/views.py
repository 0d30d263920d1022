"""The FHIR R4 API's views: metadata, read, search (GET and POST _search), Patient/$everything.

Each request: negotiate the format (JSON only), authenticate the bearer token, check the
grant's scopes for the type and interaction, read only the type's `rows(grant)` after the
grant's granular restrictions, audit the read as the app's access on behalf of the person
who authorized it, answer FHIR JSON. Every refusal is an OperationOutcome.

A Binary read answers the content itself (a download) unless the client asks for FHIR
JSON, as the FHIR specification's Binary read says.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DataError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt

from portal.audit.actor import Actor, client_ip
from portal.audit.log import record
from portal.audit.models import AuditEvent
from portal.fhir.api.auth import ApiError, ApiGrant, authenticate
from portal.fhir.api.bundles import (
    Searchset,
    add_includes,
    everything_cursor,
    everything_page,
    everything_types,
    read_everything_cursor,
)
from portal.fhir.api.capability import capability_statement
from portal.fhir.api.outcome import error_response, fhir_response
from portal.fhir.api.registry import ResourceType, SearchError, resource_types
from portal.fhir.api.search import (
    MAX_VALUE_LENGTH,
    Native,
    apply_filters,
    is_searchable,
    make_cursor,
    native_of,
    ordering,
    page_of,
    parse_public_id,
    part_for,
    parts_of,
    read_cursor,
    read_query,
    restricted,
)

log = logging.getLogger(__name__)
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir"})
ACCEPTED = JSON_FORMATS | {"*/*", "application/*", ""}
View = Callable[..., HttpResponse]


def api_view(*methods: str, negotiate: bool = True) -> Callable[[View], View]:
    """Method check, format negotiation (unless the view does its own), and every refusal
    as an OperationOutcome. Nothing the API answers is health data a cache may keep."""

    def decorate(view: View) -> View:
        @csrf_exempt  # bearer tokens, not cookies: nothing for a cross-site form to ride on
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = _answer(view, methods, negotiate, request, *args, **kwargs)
            if not response.has_header("Cache-Control"):
                response["Cache-Control"] = "no-store"
            return response

        return wrapped

    return decorate


def _answer(
    view: View, methods: tuple[str, ...], negotiate: bool, request: HttpRequest, *args: Any, **kwargs: Any
) -> HttpResponse:
    allowed = (*methods, "HEAD") if "GET" in methods else methods
    if request.method not in allowed:
        message = f"{request.method} is not supported here."
        return error_response(405, message[:100], "not-supported", {"Allow": ", ".join(allowed)})
    try:
        if negotiate:
            _negotiate(request)
        return view(request, *args, **kwargs)
    except ApiError as error:
        return error_response(error.status, error.message, error.code)
    except SearchError as error:
        return error_response(400, str(error), "invalid")
    except (DataError, OverflowError) as error:
        # A value the database cannot hold (a huge number, a date out of its range).
        log.info("FHIR API: refused a value the database cannot hold: %s", error)
        return error_response(400, "A parameter value is out of range.", "invalid")


def _accepted_ranges(request: HttpRequest) -> set[str]:
    """The media ranges of the Accept header, less those refused outright (q=0)."""
    ranges = set()
    for part in request.headers.get("Accept", "").split(","):
        media, *params = (item.strip().lower() for item in part.split(";"))
        if not any(param.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for param in params):
            ranges.add(media)
    return ranges


def _negotiate(request: HttpRequest) -> None:
    wanted = request.GET.get("_format")
    if wanted is None and request.method == "POST":
        wanted = request.POST.get("_format")
    if wanted is not None:
        if wanted.strip().lower() not in JSON_FORMATS:
            raise ApiError(406, "Only JSON is supported (_format=json).", "not-supported")
        return
    if not _accepted_ranges(request) & ACCEPTED:
        raise ApiError(406, "Only JSON is supported (application/fhir+json).", "not-supported")


def _wants_native(request: HttpRequest) -> bool:
    """Whether a Binary read asks for the content itself rather than the Binary resource.

    FHIR JSON when `_format` or Accept names it; anything else (a browser's Accept, a
    document's own type, `*/*`, no Accept at all) gets the content in its own format.
    """
    if "_format" in request.GET or _accepted_ranges(request) & JSON_FORMATS:
        _negotiate(request)
        return False
    return True


def _accepts(request: HttpRequest, content_type: str) -> bool:
    ranges = _accepted_ranges(request)
    media = content_type.split(";")[0].strip().lower()
    return bool(ranges & {"", "*/*", media, media.split("/")[0] + "/*"})


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir_api:metadata")).removesuffix("metadata")


def _kind(name: str) -> ResourceType:
    found = resource_types().get(name)
    if found is None:
        raise ApiError(404, f"The resource type '{name[:60]}' is not supported.", "not-supported")
    return found


def _require(grant: ApiGrant, kind: ResourceType, interaction: str) -> None:
    if not grant.allows(kind.name, interaction):
        grant.refused(403, kind.name, interaction)
        raise ApiError(403, f"The app was not granted {interaction} access to {kind.name}.", "forbidden")


def _zone(grant: ApiGrant) -> ZoneInfo:
    campus = grant.patient.primary_campus
    return ZoneInfo(campus.time_zone) if campus is not None else ZoneInfo(settings.TIME_ZONE)


def _audit(
    request: HttpRequest, grant: ApiGrant, action: str, resource: str, count: int, obj: Any = None
) -> None:
    """The app's read, in the patient's access log as the person who authorized it, naming the app."""
    authorization = grant.authorization
    record(
        Actor(
            user=authorization.user,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        ),
        action,
        kind=AuditEvent.Kind.READ,
        role=grant.access.role.value,
        patient=grant.patient,
        obj=obj,
        detail={"app": authorization.application.name, "resource": resource, "count": count},
    )


@api_view("GET")
def metadata(request: HttpRequest) -> HttpResponse:
    site = request.build_absolute_uri("/").rstrip("/")
    return fhir_response(capability_statement(_base(request), site))


@api_view("GET", negotiate=False)
def read(request: HttpRequest, type_name: str, resource_id: str) -> HttpResponse:
    native = type_name == "Binary" and _wants_native(request)
    if type_name != "Binary":
        _negotiate(request)
    grant = authenticate(request)
    kind = _kind(type_name)
    _require(grant, kind, "read")
    missing = ApiError(404, f"{kind.name}/{resource_id[:80]} is not known.", "not-found")
    found = part_for(kind, resource_id)
    if found is None:
        raise missing
    part, pk = found
    opener = native_of(part)
    with timezone.override(_zone(grant)):
        row = restricted(part, part.rows(grant), grant, "read").filter(pk=pk).first()
        if row is None:
            grant.refused(404, kind.name, "read", resource_id)
            raise missing
        if native and opener is not None:
            response: HttpResponse = _native_response(request, opener(row), missing)
        else:
            response = fhir_response(part.to_fhir(row, grant))
    _audit(request, grant, "fhir.read", kind.name, 1, obj=row)
    return response


def _native_response(request: HttpRequest, content: Native, missing: ApiError) -> HttpResponse:
    """The stored content as a download, never rendered by the browser that asked."""
    if not _accepts(request, content.content_type):
        raise ApiError(406, f"This content is {content.content_type.split(';')[0]}.", "not-supported")
    try:
        handle = content.open()
    except (OSError, ValueError):
        raise missing from None
    stem, dot, suffix = content.filename.rpartition(".")
    name = f"{slugify(stem)[:80] or 'document'}.{slugify(suffix)[:10]}" if dot else slugify(suffix)[:80]
    response = FileResponse(
        handle, as_attachment=True, filename=name or "document", content_type=content.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store, private"
    return response  # type: ignore[return-value]  # a streamed file; views are typed for HttpResponse


@api_view("GET")
def search(request: HttpRequest, type_name: str) -> HttpResponse:
    return _search(request, type_name, list(request.GET.lists()))


@api_view("GET", "POST")
def search_post(request: HttpRequest, type_name: str) -> HttpResponse:
    params = list(request.GET.lists()) + (list(request.POST.lists()) if request.method == "POST" else [])
    return _search(request, type_name, params)


def _pairs(params: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in params for value in values]


def _strict(request: HttpRequest) -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().lower() == "handling=strict" for part in prefer.split(";") + prefer.split(","))


def _scope(grant: ApiGrant, name: str, kept: list[tuple[str, str]]) -> str:
    """What a page token is good for: this authorization, this type, these parameters."""
    digest = hashlib.sha256(repr((name, kept)).encode()).hexdigest()[:24]
    return f"{grant.authorization.pk}:{digest}"


def _search(request: HttpRequest, type_name: str, params: list[tuple[str, list[str]]]) -> HttpResponse:
    grant = authenticate(request)
    kind = _kind(type_name)
    if not is_searchable(kind):
        message = f"{kind.name} is read by id only (the address a DocumentReference gives)."
        raise ApiError(405, message, "not-supported")
    _require(grant, kind, "search")
    query = read_query(kind, _pairs(params), _strict(request))
    scope = _scope(grant, kind.name, query.kept)
    parts = parts_of(kind)
    fields = [ordering(part, query.sort) for part in parts]
    cursor = read_cursor(query.page, scope, [len(item) for item in fields]) if query.page else None
    found = Searchset(_base(request))
    types = resource_types()
    with timezone.override(_zone(grant)):
        queries = [
            apply_filters(part, restricted(part, part.rows(grant), grant, "search"), query.filters)
            for part in parts
        ]
        page = page_of(list(zip(queries, fields, strict=True)), query.count, cursor)
        rows = [(parts[index], row) for index, row in page.rows]
        for part, row in rows:
            found.add(part.to_fhir(row, grant))
        add_includes(found, rows, query.includes, grant, types)
        if query.total == "accurate":
            # One patient's rows of one type: a count bounded by what the patient has.
            found.total = sum(rows_query.count() for rows_query in queries)
    self_params = query.kept + ([("_page", query.page)] if query.page else [])
    found.link("self", kind.name, self_params)
    if page.next is not None:
        found.link("next", kind.name, [*query.kept, ("_page", make_cursor(scope, "n", page.next))])
    if page.previous is not None:
        found.link("previous", kind.name, [*query.kept, ("_page", make_cursor(scope, "p", page.previous))])
    found.warn(query.ignored)
    _audit(request, grant, "fhir.search", kind.name, len(found.entries))
    return fhir_response(found.bundle())


@api_view("GET")
def everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    grant = authenticate(request)
    patient_kind = _kind("Patient")
    _require(grant, patient_kind, "read")
    if parse_public_id(patient_kind, resource_id) != grant.patient.pk:
        grant.refused(404, "Patient", "everything", resource_id)
        raise ApiError(404, f"Patient/{resource_id[:80]} is not known.", "not-found")
    count, token, ignored = settings.PORTAL_FHIR_PAGE_SIZE, "", []
    for name, value in _pairs(list(request.GET.lists())):
        if len(value) > MAX_VALUE_LENGTH:
            raise SearchError("A parameter is too long.")
        if name == "_count":
            if not value.isascii() or not value.isdigit() or int(value[:9]) == 0:
                raise SearchError("_count must be a whole number, 1 or more.")
            count = min(int(value[:9]), settings.PORTAL_FHIR_MAX_PAGE_SIZE)
        elif name == "_page":
            token = value
        elif name != "_format":
            ignored.append(name[:100])
    if ignored and _strict(request):
        raise SearchError(f"Not supported: {', '.join(ignored)}")
    scope = _scope(grant, "$everything", [("_count", str(count))])
    start = read_everything_cursor(token, scope) if token else (0, None)
    kinds = everything_types(grant, resource_types())
    found = Searchset(_base(request))
    with timezone.override(_zone(grant)):
        page = everything_page(kinds, grant, count, start)
        for kind, row in page.rows:
            found.add(kind.to_fhir(row, grant))
    path = f"Patient/{resource_id}/$everything"
    found.link("self", path, [("_count", str(count))] + ([("_page", token)] if token else []))
    if page.next_cursor is not None:
        found.link(
            "next", path, [("_count", str(count)), ("_page", everything_cursor(scope, *page.next_cursor))]
        )
    found.warn(ignored)
    _audit(request, grant, "fhir.search", "Patient/$everything", len(page.rows))
    return fhir_response(found.bundle())


@api_view("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise ApiError(404, "There is nothing at this address.", "not-found")
