"""Billing routes: insurance, claims and financial assistance (part of the billing namespace, see urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import views_assistance, views_insurance

urlpatterns = [
    path("insurance/", views_insurance.insurance_page, name="insurance"),
    path("insurance/add/", views_insurance.add, name="insurance_add"),
    path("insurance/<row_id:coverage_id>/replace/", views_insurance.replace, name="insurance_replace"),
    path("insurance/<row_id:coverage_id>/card/<str:side>/", views_insurance.card, name="insurance_card"),
    path("insurance/claims/", views_insurance.claims, name="claims"),
    path("assistance/", views_assistance.assistance_page, name="assistance"),
]
