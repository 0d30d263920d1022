"""Patient-side prescription refills and saved pharmacies: /messages/refills/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "refills"
urlpatterns: list[URLPattern] = []
