"""Staff billing routes: home, patient accounts (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import path

from portal.billing import staff_views_account

urlpatterns = [
    path("", staff_views_account.home, name="home"),
]
