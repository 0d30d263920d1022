"""Billing routes: paying, receipts, saved cards, how to pay by wire or check (part of the billing namespace)."""

from __future__ import annotations

from django.urls import path

from portal.billing import views_pay

urlpatterns = [
    path("pay/", views_pay.pay, name="pay"),
    path("payments/<row_id:payment_id>/", views_pay.payment, name="payment"),
    path("payments/<row_id:payment_id>/receipt.pdf", views_pay.receipt_pdf, name="receipt_pdf"),
    path("payments/<row_id:payment_id>/return/", views_pay.payment_return, name="payment_return"),
    # The gateway's return address, named by the payment's key: the id does not exist when it is given.
    path("payments/return/<slug:key>/", views_pay.payment_return_key, name="payment_return_key"),
    path("how-to-pay/", views_pay.how_to_pay, name="how_to_pay"),
    path("cards/", views_pay.card_list, name="cards"),
    path("cards/add/", views_pay.add_card, name="add_card"),
    path("cards/<row_id:card_id>/remove/", views_pay.remove_card, name="remove_card"),
]
