"""One middleware, outermost: the request id, the access log line and the request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Importing the receivers here connects them as soon as Django builds its middleware
# chain, in every process that serves requests (the only ones that see sign-ins).
from portal.core.observability import metrics, requestid, signals  # noqa: F401

Handler = Callable[[HttpRequest], HttpResponse]

access_log = logging.getLogger("portal.access")
# Load balancers and Prometheus call these every few seconds: their lines go at DEBUG so
# they do not drown the real traffic (LOG_LEVEL=DEBUG shows them).
PROBE_URL_NAMES = frozenset({"healthz", "readyz", "metrics"})
# Any other method is counted as OTHER, so a client cannot mint new metric series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


def observability_middleware(get_response: Handler) -> Handler:
    """Give the request an id (the proxy's when valid), answer it in `X-Request-ID`, and
    log and count the request by its URL pattern once it is done."""

    def middleware(request: HttpRequest) -> HttpResponse:
        request_id = requestid.accept_or_new(request.headers.get(requestid.HEADER))
        reset = requestid.current.set(request_id)
        setattr(request, requestid.ATTRIBUTE, request_id)
        started = time.perf_counter()
        try:
            # Django turns exceptions below into 500 responses, so a response always comes back.
            response = get_response(request)
            _record(request, response, time.perf_counter() - started)
            response[requestid.HEADER] = request_id
            return response
        finally:
            requestid.current.reset(reset)

    return middleware


def _record(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    route = route_of(request)
    method = request.method if request.method in METHODS else "OTHER"
    status = response.status_code
    metrics.observe_request(route, method, status, seconds)
    match = getattr(request, "resolver_match", None)
    level = logging.DEBUG if match is not None and match.url_name in PROBE_URL_NAMES else logging.INFO
    duration_ms = round(seconds * 1000, 1)
    access_log.log(
        level,
        "%s %s %s %sms",
        method,
        route,
        status,
        duration_ms,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": user_id_of(request),
        },
    )


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (`/record/results/<row_id:report_id>/`), never the path
    itself: paths hold ids and shared-link tokens, query strings can hold anything."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return "/" + str(match.route)
    if request.path.startswith(settings.STATIC_URL):
        return f"{settings.STATIC_URL}<path>"
    return UNMATCHED


def user_id_of(request: HttpRequest) -> int | None:
    # Reading request.user costs no query here: SessionLimitsMiddleware has already loaded
    # it for every request that got that far; earlier answers (static files, redirects to
    # HTTPS) have no user attribute at all.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return int(user.pk)
