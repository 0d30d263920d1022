"""The gateway the clinic configured (`PORTAL_PAYMENT_GATEWAY`: sandbox or stripe)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from portal.billing.gateways.base import Gateway

GATEWAYS = {
    "sandbox": "portal.billing.gateways.sandbox.gateway.SandboxGateway",
    "stripe": "portal.billing.gateways.stripe.gateway.StripeGateway",
}


def configured_name() -> str:
    """The configured gateway's name, "" when the clinic takes no card payments online."""
    return str(settings.PORTAL_PAYMENT_GATEWAY or "")


def cards_online() -> bool:
    """Whether patients can pay by card here (production needs a gateway configured)."""
    return bool(configured_name())


def gateway(name: str | None = None) -> Gateway:
    """The gateway by name, or the configured one."""
    chosen = name or settings.PORTAL_PAYMENT_GATEWAY
    if chosen not in GATEWAYS:
        raise LookupError(f"unknown payment gateway {chosen!r}; choose one of {sorted(GATEWAYS)}")
    gateway_class = import_string(GATEWAYS[chosen])
    return gateway_class()
