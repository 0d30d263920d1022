from __future__ import annotations

from django.urls import path

from portal.scheduling import views_booking as views

app_name = "booking"

urlpatterns = [
    path("", views.start, name="start"),
    path("times/", views.slots, name="slots"),
    path("slot/<int:slot_id>/", views.confirm, name="confirm"),
]
