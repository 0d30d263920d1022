"""The SMART authorization endpoint: the consent screen where a person lets an app read one record.

The OAuth request itself (client, redirect URI, PKCE, scopes) is validated by
django-oauth-toolkit on the GET and again on the POST: the form posts back to the same
URL, query string included, so nothing the app sent travels in hidden fields the browser
could alter. The POST adds only the person's choices: which patient, which scopes kept,
Allow or Deny.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import Application
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, portal_patients, record_write
from portal.patients.models import Scope
from portal.smart import consent
from portal.smart import scopes as smart_scopes
from portal.smart.models import PatientAuthorization


@transaction.atomic
def do_authorize_app(
    actor: Actor, access: PatientAccess, application: Application, granted: smart_scopes.Scopes
) -> PatientAuthorization:
    """Record the person's permission for the app to read the patient's record (audited)."""
    authorization = PatientAuthorization.objects.create(
        application=application, user=access.user, patient=access.patient, scopes=granted.text()
    )
    record_write(
        actor,
        access,
        "smart.authorize",
        obj=authorization,
        detail={"app": application.name[:100], "scopes": granted.text()[:1000]},
    )
    return authorization


@login_required
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    core = get_oauthlib_core()
    try:
        scope_list, credentials = core.validate_authorization_request(request)
    except OAuthToolkitError as error:
        return _error_response(request, error, None)
    application = Application.objects.get(client_id=credentials["client_id"])
    if credentials.get("code_challenge_method") != "S256":
        return _error_response(
            request,
            _redirectable(
                "invalid_request", "PKCE with code_challenge_method S256 is required.", credentials
            ),
            application,
        )
    requested = smart_scopes.parse(" ".join(scope_list))
    if not requested.resources:
        return _error_response(
            request,
            _redirectable("invalid_scope", "Ask for at least one patient/ resource scope.", credentials),
            application,
        )
    accesses = [
        access
        for access in portal_patients(request.user)  # type: ignore[arg-type]
        if access.allows(Scope.VIEW)
    ]
    credentials = {key: value for key, value in credentials.items() if key != "request"}
    page = _Page(request, application, requested, accesses)
    if request.method == "GET":
        return page.render()
    if request.POST.get("decision") != "allow" or not accesses:
        try:
            core.create_authorization_response(request, scope_list, credentials, allow=False)
        except OAuthToolkitError as error:
            return _error_response(request, error, application)
        raise AssertionError("a refused authorization always answers with an error")  # pragma: no cover
    access = _chosen(request, accesses)
    if access is None:
        return page.render(error=_("Choose whose record the app may read."), status=400)
    granted = smart_scopes.narrow(requested, set(request.POST.getlist("keep")))
    if not granted.resources:
        return page.render(error=_("Keep at least one thing the app may read, or choose Deny."), status=400)
    try:
        with transaction.atomic():
            authorization = do_authorize_app(Actor.from_request(request), access, application, granted)
            credentials["smart_authorization_id"] = authorization.pk
            uri, _headers, _body, _status = core.create_authorization_response(
                request, granted.text().split(), credentials, allow=True
            )
    except OAuthToolkitError as error:
        return _error_response(request, error, application)
    return OAuth2ResponseRedirect(uri, application.get_allowed_schemes())


class _Page:
    """The consent page for one validated request."""

    def __init__(
        self,
        request: HttpRequest,
        application: Application,
        requested: smart_scopes.Scopes,
        accesses: list[PatientAccess],
    ) -> None:
        self.request, self.application, self.requested, self.accesses = (
            request,
            application,
            requested,
            accesses,
        )

    def render(self, error: str = "", status: int = 200) -> HttpResponse:
        if not self.accesses:
            return render(
                self.request, "smart/authorize_nobody.html", {"application": self.application}, status=403
            )
        kept = set(self.request.POST.getlist("keep")) if self.request.method == "POST" else None
        choices = consent.choices(self.requested)
        chosen = self.request.POST.get("patient", "") if self.request.method == "POST" else ""
        context: dict[str, Any] = {
            "application": self.application,
            "homepage": _homepage(self.application),
            "resource_choices": [
                (choice, kept is None or choice.value in kept) for choice in choices if choice.resource
            ],
            "context_choices": [
                (choice, kept is None or choice.value in kept) for choice in choices if not choice.resource
            ],
            "patients": self.accesses,
            "chosen": chosen or str(self.accesses[0].patient.pk),
            "error": error,
            "action": self.request.get_full_path(),
        }
        response = render(self.request, "smart/authorize.html", context, status=status)
        # Allowing redirects the form's POST to the app; browsers apply the page's
        # form-action to that redirect, so the app's registered origins are allowed too.
        response._csp_update = {"form-action": ["'self'", *_redirect_origins(self.application)]}  # type: ignore[attr-defined]
        return response


def _redirect_origins(application: Application) -> list[str]:
    """The scheme://host[:port] of each of the app's (exactly matched) redirect URIs."""
    origins: list[str] = []
    for uri in application.redirect_uris.split():
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return list(dict.fromkeys(origins))


def _homepage(application: Application) -> str:
    registration = getattr(application, "registration", None)
    return registration.homepage if registration is not None else ""


def _chosen(request: HttpRequest, accesses: list[PatientAccess]) -> PatientAccess | None:
    if len(accesses) == 1 and not request.POST.get("patient"):
        return accesses[0]
    wanted = request.POST.get("patient", "")
    return next((access for access in accesses if str(access.patient.pk) == wanted), None)


def _redirectable(code: str, description: str, credentials: dict[str, Any]) -> OAuthToolkitError:
    error = errors.CustomOAuth2Error(error=code, description=description, state=credentials.get("state"))
    return OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])


def _error_response(
    request: HttpRequest, error: OAuthToolkitError, application: Application | None
) -> HttpResponse:
    """Send the error back to the app, or show it here when the client or redirect URI is not to be trusted."""
    oauthlib_error = error.oauthlib_error
    redirect_uri = oauthlib_error.redirect_uri or ""
    if isinstance(error, FatalClientError) or not redirect_uri:
        return render(
            request,
            "smart/authorize_error.html",
            {"description": oauthlib_error.description or oauthlib_error.error},
            status=400,
        )
    separator = "&" if "?" in redirect_uri else "?"
    schemes = (
        application.get_allowed_schemes() if application else oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
    )
    return OAuth2ResponseRedirect(redirect_uri + separator + oauthlib_error.urlencoded, schemes)
