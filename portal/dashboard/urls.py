from __future__ import annotations

from django.urls import path

from portal.dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-patient/", views.switch_patient, name="switch_patient"),
]
