"""Staff billing routes: financial assistance (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import staff_views_assistance as views

urlpatterns = [
    path("assistance/", views.queue, name="assistance"),
    path("assistance/<row_id:application_id>/", views.detail, name="assistance_detail"),
    path("assistance/<row_id:application_id>/document/", views.document, name="assistance_document"),
]
