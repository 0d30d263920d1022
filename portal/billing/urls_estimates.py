"""Billing routes: estimates and disputes (part of the billing namespace, see urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import views_estimates as views

urlpatterns = [
    path("estimates/", views.estimate_list, name="estimates"),
    path("estimates/save/", views.estimate_save, name="estimate_save"),
    path("estimates/<row_id:estimate_id>/", views.estimate_detail, name="estimate"),
    path("disputes/", views.dispute_list, name="disputes"),
    path("disputes/new/", views.dispute_new, name="dispute_new"),
    path("disputes/<row_id:dispute_id>/", views.dispute_detail, name="dispute"),
]
