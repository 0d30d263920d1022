"""Staff processing of refill requests: /staff/refills/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "staff_refills"
urlpatterns: list[URLPattern] = []
