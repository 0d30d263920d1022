"""The billing office's workspace: /staff/billing/."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "staff_billing"
urlpatterns: list[URLPattern] = []
