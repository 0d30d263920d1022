"""The installable web app: its manifest, its service worker and the page shown offline.

The worker precaches the app shell (stylesheets, scripts, icons, the offline page) and
nothing else; navigations always go to the network, falling back to the offline page.
The only health data ever kept on the device is the summary a signed-in user explicitly
saves from the printable record (`static/js/pwa.js`), in a Cache Storage cache named for
that user, and signing out clears it (`Clear-Site-Data` on the sign-out response, and the
signed-out page's script as a second line). docs/phone-app.md describes it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from allauth.account.views import LogoutView
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_htmx.jinja import htmx_script

# Theme colours: the stylesheet's --brand (the header) and --wash (the page).
THEME_COLOUR = "#0a4f8a"
BACKGROUND_COLOUR = "#f3f6f9"
HEALTH_CACHE_PREFIX = "portal-health-summary-"
SHELL_FILES = [
    "css/portal.css",
    "css/records.css",
    "css/print.css",
    "js/pwa.js",
    "pwa/icon.svg",
    "pwa/icon-192.png",
    "pwa/icon-512.png",
    "pwa/icon-maskable-512.png",
    "pwa/apple-touch-icon.png",
]
ICONS = [
    {"src": "pwa/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "pwa/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {"src": "pwa/icon-maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    {"src": "pwa/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
]
WORKER_TEMPLATE = "core/service-worker.js"
OFFLINE_TEMPLATE = "core/offline.html"
NO_CACHE = "no-cache"
# The worker asks for its copy of the offline page with this header (see `offline`).
SHELL_HEADER = "X-Portal-Shell"


def health_cache_name(user: Any) -> str:
    """The Cache Storage name for one user's saved summary: stable, and says nothing about who."""
    digest = salted_hmac("portal.core.pwa.health_cache", str(user.pk)).hexdigest()[:24]
    return HEALTH_CACHE_PREFIX + digest


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(manifest_data(), json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = NO_CACHE
    return response


def manifest_data() -> dict[str, Any]:
    home = reverse("home")
    return {
        "name": settings.SITE_NAME,
        "short_name": _("Patient portal"),
        "description": _("Your health record, appointments, messages and bills."),
        "id": home,
        "start_url": home,
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [{**icon, "src": static(icon["src"])} for icon in ICONS],
    }


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The worker, at the site root so its scope is the whole site."""
    response = HttpResponse(worker_source(), content_type="text/javascript; charset=utf-8")
    # The browser checks for a new worker on every navigation when told not to reuse it.
    response["Cache-Control"] = NO_CACHE
    response["Service-Worker-Allowed"] = "/"
    return response


@functools.cache
def worker_source() -> str:
    config = {
        "version": shell_version(),
        "offlineUrl": reverse("offline"),
        "manifestUrl": reverse("manifest"),
        "staticUrls": shell_static_urls(),
        "healthCachePrefix": HEALTH_CACHE_PREFIX,
        "shellHeader": SHELL_HEADER,
    }
    return render_to_string(WORKER_TEMPLATE, {"config": json.dumps(config, sort_keys=True)})


def shell_static_urls() -> list[str]:
    """Every static file the offline page loads: ours, and the htmx files base.html adds."""
    htmx = re.findall(r'src="([^"]+)"', str(htmx_script()))
    return [static(name) for name in SHELL_FILES] + htmx


@functools.cache
def shell_version() -> str:
    """A hash of what the worker precaches, so changing any of it installs a new worker."""
    digest = hashlib.sha256()
    for name in [*SHELL_FILES, *_htmx_files()]:
        digest.update(name.encode())
        digest.update(_static_bytes(name))
    for template in (WORKER_TEMPLATE, OFFLINE_TEMPLATE, "base.html"):
        digest.update(_template_source(template).encode())
    digest.update(json.dumps(ICONS).encode())
    return digest.hexdigest()[:16]


def _htmx_files() -> list[str]:
    prefix = settings.STATIC_URL
    return [url.removeprefix(prefix) for url in re.findall(r'src="([^"]+)"', str(htmx_script()))]


def _static_bytes(name: str) -> bytes:
    path = finders.find(name)
    if isinstance(path, list):
        path = path[0] if path else None
    if path is None:
        return b""
    with open(path, "rb") as handle:
        return handle.read()


def _template_source(name: str) -> str:
    origin = get_template(name).origin  # type: ignore[attr-defined]
    with open(origin.name, encoding="utf-8") as handle:
        return handle.read()


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the worker shows when a page cannot be reached.

    The worker's own copy (asked for with SHELL_HEADER) is rendered as if signed out, so
    it carries no name or menu; offline, the page's script adds the saved summary from
    the cache. Opened over the network like any page, it says who is really signed in,
    so a signed-out visitor's browser deletes any saved summary instead of showing it,
    and a signed-in user sees only their own. Flash messages are never drawn here: one
    consumed by the worker's fetch would be kept in the shell cache.
    """
    context: dict[str, Any] = {"messages": []}
    if request.headers.get(SHELL_HEADER) == "1":
        context |= {"user": AnonymousUser(), "offline_page": True}
    response = render(request, OFFLINE_TEMPLATE, context)
    response["Cache-Control"] = NO_CACHE
    return response


class SignOutView(LogoutView):
    """allauth's sign-out, which also tells the browser to delete what this site stored.

    `Clear-Site-Data` empties Cache Storage (the saved summary and the app shell) and
    unregisters the worker; the next page registers a fresh one.
    """

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(*args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response


sign_out = SignOutView.as_view()
