"""Patient-side referral requests: /referrals/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "referrals"
urlpatterns: list[URLPattern] = []
