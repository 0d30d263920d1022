"""Patient-side prescription refills and saved pharmacies: /messages/refills/"""

from __future__ import annotations

from django.urls import path

from portal.messaging import views_refills

app_name = "refills"
urlpatterns = [
    path("", views_refills.refill_list, name="list"),
    path("new/", views_refills.new_request, name="new"),
    path("pharmacies/", views_refills.pharmacies, name="pharmacies"),
    path("pharmacies/<int:pharmacy_id>/preferred/", views_refills.prefer_pharmacy, name="prefer_pharmacy"),
    path("pharmacies/<int:pharmacy_id>/remove/", views_refills.remove_pharmacy, name="remove_pharmacy"),
]
