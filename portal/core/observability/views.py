"""`/readyz` for load balancers and orchestrators, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from portal.audit.actor import client_ip
from portal.core.observability import heartbeat
from portal.core.observability.state import DatabaseStateCollector

logger = logging.getLogger(__name__)

OK = "ok"
NOT_CHECKED = "not checked"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when this server can take traffic: the database answers and, where the site
    needs one, a worker has beaten recently. 503 names what failed, nothing more."""
    checks = readiness()
    ready = all(state in (OK, NOT_CHECKED) for state in checks.values())
    return JsonResponse(checks, status=200 if ready else 503)


def readiness() -> dict[str, str]:
    """At most two queries: a round trip, then the freshest heartbeat."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        if not settings.PORTAL_READYZ_REQUIRES_WORKER:
            return {"database": OK, "worker": NOT_CHECKED}
        latest = heartbeat.latest_beat()
    except DatabaseError as error:
        logger.warning("Not ready: the database check failed: %s", type(error).__name__)
        return {"database": "unavailable", "worker": "unknown"}
    if latest is None:
        return {"database": OK, "worker": "missing"}
    return {"database": OK, "worker": OK if heartbeat.is_fresh(latest, timezone.now()) else "stale"}


def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, for allowed addresses or the bearer token; anyone else
    gets the site's ordinary 404, as if there were nothing here."""
    if not may_scrape(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def exposition() -> bytes:
    # With several gunicorn workers each keeps its counts in PROMETHEUS_MULTIPROC_DIR and
    # a scrape, answered by any one of them, must add up all their files.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    return generate_latest(counted) + generate_latest(DatabaseStateCollector())


def may_scrape(request: HttpRequest) -> bool:
    token = settings.PORTAL_METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    address = client_ip(request, strict=True)
    return address is not None and _allowed(address, tuple(settings.PORTAL_METRICS_ALLOWED_IPS))


def _allowed(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(allowed))


@lru_cache(maxsize=4)
def _networks(allowed: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)
