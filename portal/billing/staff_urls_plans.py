"""Staff billing routes: plans (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
