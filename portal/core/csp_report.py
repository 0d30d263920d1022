"""Where browsers report Content Security Policy violations (the policy's `report-uri`).

A violation on a page we serve means either a bug in our markup or script that was not
ours trying to run (injected markup the escaping missed, a hostile browser extension),
so every report is logged and counted. The endpoint takes no cookies' word for
anything and is open to the world, so it is cheap to hit and hard to abuse: POST only,
a small body, a per-address budget per minute, and a log line built from a few
shortened fields of the report, never the report itself.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from prometheus_client import Counter

from portal.audit.actor import client_ip
from portal.core.observability.redact import redact_text

logger = logging.getLogger("portal.csp")

# A report is well under 2 kB; a sample of the offending script makes it bigger, not larger than this.
MAX_REPORT_BYTES = 16 * 1024
REPORTS_PER_MINUTE = 60
# Label values come from this list only: the directive is the sender's claim, and a
# free-form label would let anyone grow the metrics without limit.
DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "media-src",
        "object-src",
        "frame-src",
        "child-src",
        "worker-src",
        "manifest-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    }
)

csp_reports = Counter(
    "portal_csp_reports",
    "Content Security Policy violation reports received, by the directive the browser says was violated.",
    ["directive"],
)


@csrf_exempt  # browsers send reports without a CSRF token, and the view changes nothing
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Log and count one violation report; always answer 204 unless refused."""
    # The budget first: refusing costs nothing, reading the body does.
    if not _within_budget(request, 1):
        return HttpResponse(status=429)
    if _too_large(request):
        return HttpResponse(status=413)
    reports = _reports(request.body)
    # One request in the Reporting API's format may carry several reports; each beyond
    # the first counts against the address's budget too.
    if len(reports) > 1 and not _within_budget(request, len(reports) - 1):
        return HttpResponse(status=429)
    for report in reports:
        _record(report)
    return HttpResponse(status=204)


def _too_large(request: HttpRequest) -> bool:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return True
    # Reading the body is bounded by Django's DATA_UPLOAD_MAX_MEMORY_SIZE too; this
    # check refuses before reading at all.
    return declared > MAX_REPORT_BYTES or len(request.body) > MAX_REPORT_BYTES


def _within_budget(request: HttpRequest, reports: int) -> bool:
    key = f"csp-report:{_budget_holder(client_ip(request))}"
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key, reports)
    except ValueError:  # expired between add and incr: this is the first of a new minute
        cache.set(key, reports, timeout=60)
        count = reports
    return count <= REPORTS_PER_MINUTE


def _budget_holder(address: str | None) -> str:
    """The address, or for IPv6 its /64: one machine can hold a whole /64."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _reports(body: bytes) -> list[dict[str, Any]]:
    """The violation bodies in either format: `report-uri`'s {"csp-report": {...}} or the
    Reporting API's [{"type": "csp-violation", "body": {...}}, ...]."""
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return []
    if isinstance(parsed, dict) and isinstance(parsed.get("csp-report"), dict):
        return [parsed["csp-report"]]
    if isinstance(parsed, list):
        return [
            item["body"]
            for item in parsed[:10]
            if isinstance(item, dict) and isinstance(item.get("body"), dict)
        ]
    return []


def _record(report: dict[str, Any]) -> None:
    directive = _directive(report)
    csp_reports.labels(directive).inc()
    logger.warning(
        "CSP violation: %s blocked %s on %s",
        directive,
        _where(report.get("blocked-uri") or report.get("blockedURL")),
        _where(report.get("document-uri") or report.get("documentURL")),
    )


def _directive(report: dict[str, Any]) -> str:
    claimed = (
        report.get("effective-directive")
        or report.get("effectiveDirective")
        or report.get("violated-directive")
    )
    name = str(claimed or "").split(" ", 1)[0].strip().lower()
    return name if name in DIRECTIVES else "other"


def _where(value: object) -> str:
    """Where a violation happened, without what a URL may carry: our own pages by their
    route pattern (paths hold record ids and shared-link tokens), other URLs by scheme and
    host, and the keywords browsers send instead of a URL ("inline", "eval") as they are."""
    text = str(value or "-")[:500]
    if "://" not in text:
        return _printable(text)
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket: anyone can send anything here
        return "(unparseable address)"
    try:
        match = resolve(parts.path)
    except Resolver404:
        return _printable(f"{parts.scheme}://{parts.netloc}")
    return _printable("/" + str(match.route))


def _printable(text: str) -> str:
    shown = "".join(character if character.isprintable() else "?" for character in text[:120])
    return redact_text(shown)
