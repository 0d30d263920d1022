from __future__ import annotations

from django.urls import URLPattern

app_name = "staff_records"

urlpatterns: list[URLPattern] = []
