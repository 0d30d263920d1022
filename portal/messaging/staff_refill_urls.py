"""Staff processing of refill requests: /staff/refills/"""

from __future__ import annotations

from django.urls import path

from portal.messaging import views_staff_refills

app_name = "staff_refills"
urlpatterns = [
    path("", views_staff_refills.refill_list, name="list"),
    path("<int:refill_id>/", views_staff_refills.refill_detail, name="detail"),
    path("<int:refill_id>/approve/", views_staff_refills.approve, name="approve"),
    path("<int:refill_id>/deny/", views_staff_refills.deny, name="deny"),
    path("<int:refill_id>/ask/", views_staff_refills.ask, name="ask"),
]
