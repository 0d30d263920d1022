"""Django's username-and-password backend, refusing the published demo password in production.

The demo password is printed in the README and on the demo's sign-in page. A production
database copied from a demo one (or a demo account recreated by hand) would otherwise
sign in with it. This backend comes first in AUTHENTICATION_BACKENDS: its PermissionDenied
stops Django from asking the others (allauth's email backend) and counts as a failed
sign-in, like a wrong password.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare


def is_published_password(password: str) -> bool:
    return constant_time_compare(password, settings.DEMO_PASSWORD)


class PortalModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if settings.PRODUCTION and password is not None and is_published_password(password):
            raise PermissionDenied
        return super().authenticate(request, username=username, password=password, **kwargs)
