from __future__ import annotations

from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    name = "portal.registration"
    label = "registration"

    def ready(self) -> None:
        from portal.registration import vocabulary

        vocabulary.register_phrases()
