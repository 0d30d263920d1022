from __future__ import annotations

from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "portal.patients"
    label = "patients"

    def ready(self) -> None:
        from portal.patients import phrases  # noqa: F401  (registers the audit phrases)
