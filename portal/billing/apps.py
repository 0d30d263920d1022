from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Bills and payments: the ledger, statements, insurance claims, card payments through a
    gateway (local sandbox or Stripe), payment plans, cost estimates and disputes, financial
    assistance, and the billing office's workspace."""

    name = "portal.billing"
    label = "billing"

    def ready(self) -> None:
        from portal.billing import (  # noqa: F401  (audit phrases)
            phrases,
            phrases_estimates,
            phrases_insurance,
            phrases_overview,
            phrases_pay,
            phrases_plans,
            phrases_staff,
        )
