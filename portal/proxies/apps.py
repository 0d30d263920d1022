from __future__ import annotations

from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    """Proxy access flows: parents' requests, invitations, revocation. The policy is in patients."""

    name = "portal.proxies"
    label = "proxies"

    def ready(self) -> None:
        from portal.proxies import phrases  # noqa: F401  (registers the audit phrases)
