from __future__ import annotations

from django.urls import URLPattern

app_name = "appointment_requests"

urlpatterns: list[URLPattern] = []
