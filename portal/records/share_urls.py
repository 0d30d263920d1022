from __future__ import annotations

from django.urls import URLPattern

app_name = "record_sharing"

urlpatterns: list[URLPattern] = []
