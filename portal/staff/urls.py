from __future__ import annotations

from django.urls import path

from portal.staff import views

app_name = "staff"
urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("break-glass/", views.break_glass, name="break_glass"),
]
