"""Staff billing routes: disputes (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import staff_views_disputes as views

urlpatterns = [
    path("disputes/", views.dispute_queue, name="disputes"),
    path("disputes/<row_id:dispute_id>/", views.dispute_detail, name="dispute"),
    path("disputes/<row_id:dispute_id>/decide/", views.dispute_decide, name="dispute_decide"),
]
