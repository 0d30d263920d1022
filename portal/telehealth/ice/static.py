"""ICE servers from configuration: STUN URLs, and TURN URLs with one fixed username and password."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def ice_servers(participant_id: int) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    if settings.PORTAL_VIDEO_STUN_URLS:
        servers.append({"urls": list(settings.PORTAL_VIDEO_STUN_URLS)})
    if settings.PORTAL_VIDEO_TURN_URLS:
        servers.append(
            {
                "urls": list(settings.PORTAL_VIDEO_TURN_URLS),
                "username": settings.PORTAL_VIDEO_TURN_USERNAME,
                "credential": settings.PORTAL_VIDEO_TURN_PASSWORD,
            }
        )
    return servers
