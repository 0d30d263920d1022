from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"SITE_NAME": settings.SITE_NAME, "LANGUAGES": settings.LANGUAGES}
    if settings.PORTAL_DEMO:
        # Only the demo publishes its password (the tour on the sign-in page shows it).
        context |= {
            "PORTAL_DEMO": True,
            "PORTAL_DEMO_MAILBOX": settings.PORTAL_DEMO_MAILBOX,
            "DEMO_PASSWORD": settings.DEMO_PASSWORD,
        }
    return context
