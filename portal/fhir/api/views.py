"""The FHIR R4 API's views: metadata, read, search (GET and POST _search), Patient/$everything.

Each request: negotiate the format (JSON only), authenticate the bearer token, check the
grant's scopes for the type and interaction, read only the type's `rows(grant)` after the
grant's granular restrictions, audit the read as the app's access on behalf of the person
who authorized it, answer FHIR JSON. Every refusal is an OperationOutcome.
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
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
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
    apply_filters,
    make_cursor,
    ordering,
    page_of,
    parse_public_id,
    read_cursor,
    read_query,
    restricted,
)

log = logging.getLogger(__name__)
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir"})
ACCEPTED = JSON_FORMATS | {"*/*", "application/*", ""}
View = Callable[..., HttpResponse]


def api_view(*methods: str) -> Callable[[View], View]:
    """Method check, format negotiation, and every refusal as an OperationOutcome."""

    def decorate(view: View) -> View:
        @csrf_exempt  # bearer tokens, not cookies: nothing for a cross-site form to ride on
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            allowed = (*methods, "HEAD") if "GET" in methods else methods
            if request.method not in allowed:
                message = f"{request.method} is not supported here."
                return error_response(405, message[:100], "not-supported", {"Allow": ", ".join(allowed)})
            try:
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

        return wrapped

    return decorate


def _negotiate(request: HttpRequest) -> None:
    wanted = request.GET.get("_format")
    if wanted is None and request.method == "POST":
        wanted = request.POST.get("_format")
    if wanted is not None:
        if wanted.strip().lower() not in JSON_FORMATS:
            raise ApiError(406, "Only JSON is supported (_format=json).", "not-supported")
        return
    ranges = {part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")}
    if not ranges & ACCEPTED:
        raise ApiError(406, "Only JSON is supported (application/fhir+json).", "not-supported")


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


@api_view("GET")
def read(request: HttpRequest, type_name: str, resource_id: str) -> HttpResponse:
    grant = authenticate(request)
    kind = _kind(type_name)
    _require(grant, kind, "read")
    missing = ApiError(404, f"{kind.name}/{resource_id[:80]} is not known.", "not-found")
    pk = parse_public_id(kind, resource_id)
    if pk is None:
        raise missing
    with timezone.override(_zone(grant)):
        row = restricted(kind, kind.rows(grant), grant, "read").filter(pk=pk).first()
        if row is None:
            grant.refused(404, kind.name, "read", resource_id)
            raise missing
        resource = kind.to_fhir(row, grant)
    _audit(request, grant, "fhir.read", kind.name, 1, obj=row)
    return fhir_response(resource)


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
    _require(grant, kind, "search")
    query = read_query(kind, _pairs(params), _strict(request))
    scope = _scope(grant, kind.name, query.kept)
    fields = ordering(kind, query.sort)
    cursor = read_cursor(query.page, scope, len(fields)) if query.page else None
    found = Searchset(_base(request))
    types = resource_types()
    with timezone.override(_zone(grant)):
        rows = apply_filters(kind, restricted(kind, kind.rows(grant), grant, "search"), query.filters)
        page = page_of(rows, fields, query.count, cursor)
        for row in page.rows:
            found.add(kind.to_fhir(row, grant))
        add_includes(found, kind, page.rows, query.includes, grant, types)
    self_params = query.kept + ([("_page", query.page)] if query.page else [])
    found.link("self", kind.name, self_params)
    if page.next_key is not None:
        found.link("next", kind.name, [*query.kept, ("_page", make_cursor(scope, "n", page.next_key))])
    if page.previous_key is not None:
        found.link(
            "previous", kind.name, [*query.kept, ("_page", make_cursor(scope, "p", page.previous_key))]
        )
    found.warn(query.ignored)
    _audit(request, grant, "fhir.search", kind.name, len(found.entries))
    return fhir_response(found.bundle())


@api_view("GET")
def everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    grant = authenticate(request)
    patient_kind = _kind("Patient")
    _require(grant, patient_kind, "read")
    if parse_public_id(patient_kind, resource_id) != grant.patient.pk:
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
