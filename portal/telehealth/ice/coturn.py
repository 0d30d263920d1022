"""TURN credentials for coturn's `use-auth-secret` mode (the "TURN REST API" scheme).

The username is "<expiry unix time>:<label>" and the password is the base64 HMAC-SHA1
of the username under the secret shared with coturn, so a page's credentials stop
working after PORTAL_VIDEO_TURN_TTL_SECONDS and no per-user accounts live in coturn.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def credentials(label: str, now: float | None = None) -> tuple[str, str]:
    expiry = int((now if now is not None else time.time()) + settings.PORTAL_VIDEO_TURN_TTL_SECONDS)
    username = f"{expiry}:{label}"
    digest = hmac.new(settings.PORTAL_VIDEO_TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(participant_id: int) -> list[dict[str, Any]]:
    username, password = credentials(f"participant-{participant_id}")
    servers: list[dict[str, Any]] = []
    if settings.PORTAL_VIDEO_STUN_URLS:
        servers.append({"urls": list(settings.PORTAL_VIDEO_STUN_URLS)})
    servers.append(
        {"urls": list(settings.PORTAL_VIDEO_TURN_URLS), "username": username, "credential": password}
    )
    return servers
