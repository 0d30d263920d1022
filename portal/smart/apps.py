from __future__ import annotations

from django.apps import AppConfig


class SmartConfig(AppConfig):
    """SMART App Launch: the OAuth 2.0 / OpenID Connect authorization server (django-oauth-toolkit),
    the patient's consent and connected apps, and developers' app registration."""

    name = "portal.smart"
    label = "smart"

    def ready(self) -> None:
        from portal.smart import phrases  # noqa: F401  (audit phrases)
