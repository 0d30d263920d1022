"""Text-message providers by name, picked by `PORTAL_SMS_PROVIDER`.

"local" keeps texts in the demo mailbox, "twilio" sends them; empty sends none (the
outbox leaves texts waiting with "no SMS provider"). An unknown name, or Twilio without
its settings, fails the startup checks (`portal check`, and so `portal serve` and
`portal worker`) rather than the first text. So does an `EMAIL_TIMEOUT` that is not well
inside the outbox's claim lease (checked here, where the delivery checks live).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from portal.notifications.sms.base import SmsProvider

_factories: dict[str, Callable[[], SmsProvider]] = {}


def register(name: str, factory: Callable[[], SmsProvider]) -> None:
    """Make a provider available under `name` (built-ins below; tests add their own)."""
    _factories[name] = factory


def configured_name() -> str:
    return str(getattr(settings, "PORTAL_SMS_PROVIDER", "") or "").strip()


def is_configured() -> bool:
    return bool(configured_name())


def get_provider() -> SmsProvider:
    """The configured provider; ImproperlyConfigured when none is, or its name is unknown."""
    name = configured_name()
    if not name:
        raise ImproperlyConfigured("No SMS provider is configured (PORTAL_SMS_PROVIDER is empty)")
    factory = _factories.get(name)
    if factory is None:
        raise ImproperlyConfigured(
            f"Unknown PORTAL_SMS_PROVIDER {name!r}; known: {', '.join(sorted(_factories))}"
        )
    return factory()


def _local() -> SmsProvider:
    from portal.notifications.sms.local import LocalSmsProvider

    return LocalSmsProvider()


def _twilio() -> SmsProvider:
    # Imported only when chosen: the library is not needed to start without it.
    from portal.notifications.sms.twilio import TwilioSmsProvider

    return TwilioSmsProvider.from_settings()


register("local", _local)
register("twilio", _twilio)


@checks.register()
def check_sms_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    name = configured_name()
    if name and name not in _factories:
        return [
            checks.Error(
                f"PORTAL_SMS_PROVIDER is {name!r}, which is not a known SMS provider.",
                hint=f"Use one of: {', '.join(sorted(_factories))}, or leave it empty to send no texts.",
                id="notifications.E001",
            )
        ]
    if name == "twilio":
        from portal.notifications.sms.twilio import missing_settings

        missing = missing_settings()
        if missing:
            return [
                checks.Error(
                    f"PORTAL_SMS_PROVIDER is 'twilio' but {', '.join(missing)} is not set.",
                    id="notifications.E002",
                )
            ]
    return []


@checks.register()
def check_delivery_timeouts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A provider call must time out well within `outbox.LEASE`, else a stalled send is
    taken over and sent again by another worker while the first may still deliver it."""
    from portal.notifications.outbox import LEASE

    timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    limit = LEASE.total_seconds() / 2
    if isinstance(timeout, int | float) and 0 < timeout <= limit:
        return []
    return [
        checks.Error(
            f"EMAIL_TIMEOUT is {timeout!r}; it must be a number of seconds above 0 and at most {limit:g}.",
            hint="Leave it at its default of 30 seconds unless the mail server is known to be slow.",
            id="notifications.E003",
        )
    ]
