"""Session limits and required two-factor enrolment, checked on every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from allauth.usersessions.middleware import UserSessionsMiddleware
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from portal.accounts import sessions
from portal.accounts.adapter import SECOND_FACTORS
from portal.accounts.signals import SIGN_OUT_REASON

Handler = Callable[[HttpRequest], HttpResponse]

# The idle-timeout script asks how long is left without that counting as activity.
SESSION_STATUS_URL_NAME = "accounts:session_status"
SESSION_EXTEND_URL_NAME = "accounts:session_extend"

# What a user who must enrol in two-factor may still reach: the enrolment pages, the
# allauth steps they lead to, signing out, and the plumbing every page uses.
ENROLMENT_URL_NAMES = {
    "accounts:mfa_setup",
    "accounts:session_status",
    "accounts:session_extend",
    "account_logout",
    "account_reauthenticate",
    "mfa_reauthenticate",
    "mfa_reauthenticate_webauthn",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_generate_recovery_codes",
    "set_language",
    # Unsubscribing works from an email link without signing in, so it must not send a
    # signed-in user who has not enrolled yet to the enrolment page instead.
    "notifications:unsubscribe",
    "healthz",
    "readyz",
    # The installable app's files carry nothing personal; redirecting them breaks it.
    "manifest",
    "service_worker",
    "offline",
    # The browser reports CSP violations with the page's cookies; a redirect would lose them.
    "csp_report",
}


class SessionLimitsMiddleware:
    """Sign out sessions idle too long or older than their lifetime; note activity on the rest.

    Sits after the session, authentication and message middleware.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            expiry = sessions.expired(request.session)
            if expiry is not None:
                return self._sign_out(request, expiry)
            if request.path_info != reverse(SESSION_STATUS_URL_NAME):
                sessions.touch(request.session)
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest, expiry: sessions.Expiry) -> HttpResponse:
        setattr(request, SIGN_OUT_REASON, f"session_{expiry.value}")
        logout(request)
        messages.info(request, _explanation(expiry))
        # Scripts (the idle timer, a video visit's polling) get an answer they can read.
        script_urls = (reverse(SESSION_STATUS_URL_NAME), reverse(SESSION_EXTEND_URL_NAME))
        if request.path_info in script_urls or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"remaining": 0, "signed_in": False}, status=401)
        next_url = request.get_full_path() if request.method == "GET" else reverse("home")
        response = redirect_to_login(next_url)
        if _is_htmx(request):
            return HttpResponseClientRedirect(response["Location"])
        return response


def _explanation(expiry: sessions.Expiry) -> str:
    if expiry is sessions.Expiry.IDLE:
        return _("You were signed out because you did nothing for %(minutes)d minutes.") % {
            "minutes": settings.PORTAL_IDLE_TIMEOUT_MINUTES
        }
    return _("You were signed out because your session reached its time limit. Please sign in again.")


class RequireTwoFactorMiddleware:
    """With PORTAL_REQUIRE_MFA on, send a signed-in user without a second factor to enrol.

    Uses `process_view` so the URL is already resolved; allauth's own pages for adding
    a factor, re-authenticating and signing out stay reachable.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not settings.PORTAL_REQUIRE_MFA or not request.user.is_authenticated:
            return None
        if _url_name(request) in ENROLMENT_URL_NAMES or is_mfa_enabled(request.user, SECOND_FACTORS):
            return None
        setup = reverse("accounts:mfa_setup")
        if _is_htmx(request):
            return HttpResponseClientRedirect(setup)
        return HttpResponseRedirect(setup)


def _url_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return str(match.view_name) if match is not None else ""


def _is_htmx(request: HttpRequest) -> bool:
    # Read the header: django-htmx's middleware comes later in the chain.
    return request.headers.get("HX-Request") == "true"


class UserSessionActivityMiddleware(UserSessionsMiddleware):
    """allauth's session list, noting each session's activity at most every few seconds.

    allauth writes the session's row on every request; a video visit's page polls every
    second, so without this each participant would cost a database write per second.
    The listing shows minutes, so a few seconds' delay changes nothing the user sees.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        if session_key and not cache.add(
            f"usersession-seen:{session_key}", 1, timeout=sessions.ACTIVITY_RESOLUTION_SECONDS
        ):
            return self.get_response(request)
        return super().__call__(request)
