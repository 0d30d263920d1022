"""Billing routes: paying, receipts, saved cards, how to pay by wire or check (part of the billing namespace)."""

from __future__ import annotations

from django.urls import path

from portal.billing import views_pay

urlpatterns = [
    path("payments/<row_id:payment_id>/", views_pay.payment, name="payment"),
]
