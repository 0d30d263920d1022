"""allauth's hooks, bent to a clinic's rules: sign-in throttling, audited passwords and
sessions, the portal's name on authenticator apps and passkeys."""

from __future__ import annotations

import logging
import math
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.accounts import throttle
from portal.accounts.actions import do_end_sessions, do_refuse_sign_in, do_set_password
from portal.accounts.models import User
from portal.audit.actor import Actor, client_ip

logger = logging.getLogger(__name__)
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def current_actor() -> Actor:
    request = context.request
    return Actor.from_request(request) if request is not None else Actor.system()


def throttle_message(verdict: throttle.Verdict) -> str:
    if verdict.state is throttle.State.LOCKED:
        minutes = math.ceil(verdict.retry_after / 60)
        return ngettext(
            "Sign-in is locked after too many failed attempts. Try again in %(minutes)d minute, "
            "or reset your password to unlock it now.",
            "Sign-in is locked after too many failed attempts. Try again in %(minutes)d minutes, "
            "or reset your password to unlock it now.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many failed attempts. Wait %(seconds)d second, then try again.",
        "Too many failed attempts. Wait %(seconds)d seconds, then try again.",
        verdict.retry_after,
    ) % {"seconds": verdict.retry_after}


class PortalAccountAdapter(DefaultAccountAdapter):
    """allauth's account hooks, bent to a clinic's rules."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Open sign-up would let anyone create an account; patients register with a
        # clinic number and activation code instead.
        return bool(settings.PORTAL_OPEN_SIGNUP)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        if getattr(user, "is_workforce", False) and not hasattr(user, "own_patient"):
            return "/staff/"
        return super().get_login_redirect_url(request)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # Replaces allauth's own failed-login limit (ACCOUNT_RATE_LIMITS["login_failed"]
        # still guards two-factor codes): see portal/accounts/throttle.py.
        username = str(credentials.get("username") or credentials.get("email") or "")
        verdict = throttle.check(username, client_ip(request))
        if not verdict.allowed:
            do_refuse_sign_in(Actor.from_request(request), username, verdict)
            raise ValidationError(throttle_message(verdict), code=f"sign_in_{verdict.state}")

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # allauth names the site by its host; the emails name it as the portal does.
        super().send_mail(template_prefix, email, {"SITE_NAME": settings.SITE_NAME, **context})

    def send_notification_mail(self, *args: Any, **kwargs: Any) -> None:
        # allauth may send these after the request has finished (on commit, in tests);
        # without a request there is no address or browser to report, so say nothing.
        if context.request is None:
            logger.warning("Skipped account notification %s: no request", args[0] if args else "")
            return
        super().send_notification_mail(*args, **kwargs)

    def set_password(self, user: Any, password: str) -> None:
        do_set_password(current_actor(), user, password)

    def get_client_ip(self, request: HttpRequest) -> str:
        # The same address the audit trail records, honouring TRUSTED_PROXY_COUNT.
        address = client_ip(request)
        if not address:
            raise PermissionDenied("Unable to determine the client address.")
        return address


class PortalMFAAdapter(DefaultMFAAdapter):
    """Two-factor hooks: the site's name in authenticator apps and on passkeys."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "Two-factor sign-in is required here. Add a passkey before you turn off the authenticator app."
        ),
    }

    def get_totp_issuer(self) -> str:
        return str(settings.MFA_TOTP_ISSUER or settings.SITE_NAME)

    def get_totp_label(self, user: Any) -> str:
        return str(user.username)

    def _get_site_name(self) -> str:
        return str(settings.SITE_NAME)

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        # The relying party is the host the browser sees unless configured: set
        # PORTAL_WEBAUTHN_RP_ID to a parent domain to share passkeys across subdomains.
        rp_id = settings.PORTAL_WEBAUTHN_RP_ID or split_domain_port(context.request.get_host())[0]
        return {"id": rp_id, "name": str(settings.SITE_NAME)}

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if not settings.PORTAL_REQUIRE_MFA:
            return True
        others = Authenticator.objects.filter(user_id=authenticator.user_id, type__in=SECOND_FACTORS)
        return others.exclude(pk=authenticator.pk).exists()


class PortalUserSessionsAdapter(DefaultUserSessionsAdapter):
    """Ending sessions from the sessions page goes through an audited action."""

    def end_sessions(self, sessions: Any) -> None:
        sessions = list(sessions)
        if not sessions:
            return
        user = User.objects.get(pk=sessions[0].user_id)
        do_end_sessions(current_actor(), user, sessions, reason="signed_out_elsewhere")
