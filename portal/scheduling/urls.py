from __future__ import annotations

from django.urls import path

from portal.scheduling import views_appointments as views

app_name = "appointments"

urlpatterns = [
    path("", views.appointment_list, name="list"),
    path("<int:appointment_id>/", views.appointment_detail, name="detail"),
]
