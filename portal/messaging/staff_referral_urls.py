"""Staff processing of referrals: /staff/referrals/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "staff_referrals"
urlpatterns: list[URLPattern] = []
