"""The clinic's price list (chargemaster) in Django admin.

Only the price list is here. Accounts, ledgers, payments, claims and coverages are
patient data: they are reached only through the access policy, in the billing office's
workspace (/staff/billing/), where every read and write is audited.
"""

from __future__ import annotations

from django.contrib import admin

from portal.billing.models import PriceItem


@admin.register(PriceItem)
class PriceItemAdmin(admin.ModelAdmin[PriceItem]):
    list_display = ["code", "description", "price_cents", "self_pay_price_cents", "active"]
    list_filter = ["active"]
    search_fields = ["code", "description"]
    filter_horizontal = ["visit_types"]
