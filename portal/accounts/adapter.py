from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class PortalAccountAdapter(DefaultAccountAdapter):
    """allauth's hooks, bent to a clinic's rules."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Open sign-up would let anyone create an account; patients register with a
        # clinic number and activation code instead.
        return bool(settings.PORTAL_OPEN_SIGNUP)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        if getattr(user, "is_workforce", False) and not hasattr(user, "own_patient"):
            return "/staff/"
        return super().get_login_redirect_url(request)
