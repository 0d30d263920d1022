from __future__ import annotations

from django.apps import AppConfig


class TelehealthConfig(AppConfig):
    """Video visits (device check, waiting room, a browser-to-browser call signalled through
    the portal) and e-visits (online care for minor problems, answered by a clinician)."""

    name = "portal.telehealth"
    label = "telehealth"

    def ready(self) -> None:
        from portal.telehealth import phrases, phrases_evisits  # noqa: F401  (audit phrases)
