"""The account and security page, guided two-factor enrolment, "forgot username" and the
session keep-alive endpoints. Everything else about signing in is allauth's views with
the portal's templates."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import sessions
from portal.accounts.actions import do_send_username_reminder
from portal.accounts.adapter import SECOND_FACTORS
from portal.accounts.forms import ForgotUsernameForm
from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor

Type = Authenticator.Type


@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    authenticators = list(Authenticator.objects.filter(user=user).order_by("created_at"))
    recovery = next((auth for auth in authenticators if auth.type == Type.RECOVERY_CODES), None)
    active_sessions = sorted(
        (session for session in UserSession.objects.purge_and_list(user) if sessions.is_live(session)),
        key=lambda session: session.last_seen_at,
        reverse=True,
    )
    context: dict[str, Any] = {
        "totp": next((auth for auth in authenticators if auth.type == Type.TOTP), None),
        "passkeys": [auth for auth in authenticators if auth.type == Type.WEBAUTHN],
        "recovery_codes_left": len(recovery.wrap().get_unused_codes()) if recovery else None,
        "email": EmailAddress.objects.filter(user=user, primary=True).first(),
        "sessions": active_sessions,
        "mfa_required": settings.PORTAL_REQUIRE_MFA,
        "mfa_enabled": is_mfa_enabled(user, SECOND_FACTORS),
        "idle_minutes": settings.PORTAL_IDLE_TIMEOUT_MINUTES,
        "lifetime_hours": sessions.lifetime_seconds() // 3600,
    }
    return render(request, "accounts/security.html", context)


@login_required
@require_GET
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """The guided enrolment every user without a second factor is sent to when it is required."""
    user = signed_in_user(request)
    context = {
        "mfa_enabled": is_mfa_enabled(user, SECOND_FACTORS),
        "mfa_required": settings.PORTAL_REQUIRE_MFA,
        "has_totp": is_mfa_enabled(user, [Type.TOTP]),
        "has_passkey": is_mfa_enabled(user, [Type.WEBAUTHN]),
    }
    return render(request, "accounts/mfa_setup.html", context)


@require_http_methods(["GET", "POST"])
def forgot_username(request: HttpRequest) -> HttpResponse:
    """Email the usernames for an address; the answer never says whether there were any."""
    form = ForgotUsernameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            email = form.cleaned_data["email"]
            if not ratelimit.consume(request, action="forgot_username", key=email.lower()):
                form.add_error(None, _("Too many requests. Wait a few minutes, then try again."))
                return render(request, "accounts/forgot_username.html", {"form": form}, status=429)
            do_send_username_reminder(Actor.from_request(request), email)
            return redirect("accounts:forgot_username_done")
        if form.bot_suspected:
            return redirect("accounts:forgot_username_done")
    return render(request, "accounts/forgot_username.html", {"form": form})


@require_GET
def forgot_username_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/forgot_username_done.html")


@login_required
@require_GET
def session_status(request: HttpRequest) -> JsonResponse:
    """How long the session has left; asking does not count as activity."""
    return _session_answer(request)


@login_required
@require_POST
def session_extend(request: HttpRequest) -> JsonResponse:
    """The "stay signed in" button: count as activity and say how long is left now."""
    sessions.touch(request.session, force=True)
    return _session_answer(request)


def _session_answer(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "signed_in": True,
            "remaining": sessions.remaining_seconds(request.session),
            "warning": settings.PORTAL_IDLE_WARNING_SECONDS,
        }
    )
