"""Patient-side referral requests: /referrals/"""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.messaging import views_referrals as views

app_name = "referrals"
urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", views.new_referral, name="new"),
    path("<row_id:referral_id>/", views.referral_detail, name="detail"),
]
