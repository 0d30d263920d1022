"""Where browsers find STUN and TURN servers for a video visit, by PORTAL_VIDEO_ICE_PROVIDER.

Each provider is a function from the participant to the RTCPeerConnection `iceServers`
list their page is given: "none" (host addresses only), "static" (configured URLs and
credentials) or "coturn" (time-limited TURN credentials from coturn's shared secret).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from portal.telehealth.ice import coturn, static

IceServers = list[dict[str, Any]]


def _host_addresses_only(participant_id: int) -> IceServers:
    return []


PROVIDERS: dict[str, Callable[[int], IceServers]] = {
    "none": _host_addresses_only,
    "static": static.ice_servers,
    "coturn": coturn.ice_servers,
}


def ice_servers(participant_id: int) -> IceServers:
    """The ICE servers for one participant's page, from the configured provider."""
    return PROVIDERS[settings.PORTAL_VIDEO_ICE_PROVIDER](participant_id)
