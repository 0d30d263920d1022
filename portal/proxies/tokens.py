"""Signed, expiring links in proxy invitations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import signing

from portal.proxies.models import ProxyInvitation

SALT = "portal.proxies.invitation"


def invitation_token(invitation: ProxyInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=SALT, compress=True)


def invitation_from_token(token: str) -> ProxyInvitation | None:
    """The invitation a well-signed, unexpired token names, whatever its status; else None."""
    max_age = dt.timedelta(days=settings.PORTAL_PROXY_INVITATION_DAYS)
    try:
        payload: Any = signing.loads(token, salt=SALT, max_age=max_age)
        invitation_id, nonce = int(payload["i"]), str(payload["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    # The nonce ties the token to this invitation row, so a token outlives nothing it names.
    return (
        ProxyInvitation.objects.select_related("patient", "invited_by")
        .filter(pk=invitation_id, nonce=nonce)
        .first()
    )
