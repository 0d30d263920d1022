from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "portal.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Registers the startup check that the configured SMS provider exists and is set up.
        from portal.notifications.sms import registry  # noqa: F401
