from __future__ import annotations

from django.apps import AppConfig


class HealthCardsConfig(AppConfig):
    """SMART Health Cards: signed, verifiable copies of a patient's immunizations and recent
    lab results, as a QR code and a `.smart-health-card` file, and the issuer's public key."""

    name = "portal.healthcards"
    label = "healthcards"

    def ready(self) -> None:
        from portal.healthcards import phrases  # noqa: F401  (audit phrases)
