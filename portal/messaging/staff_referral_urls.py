"""Staff processing of referrals: /staff/referrals/"""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.messaging import views_staff_referrals as views

app_name = "staff_referrals"
urlpatterns = [
    path("", views.referral_list, name="list"),
    path("<row_id:referral_id>/", views.referral_detail, name="detail"),
    path("<row_id:referral_id>/approve/", views.approve, name="approve"),
    path("<row_id:referral_id>/deny/", views.deny, name="deny"),
    path("<row_id:referral_id>/complete/", views.complete, name="complete"),
    path("<row_id:referral_id>/schedule/", views.schedule, name="schedule"),
]
