"""App registration for developers (/developers/)."""

from __future__ import annotations

from django.urls import path

from portal.smart import views_developers

app_name = "developers"
urlpatterns = [
    path("", views_developers.home, name="home"),
    path("<int:registration_id>/secret/", views_developers.new_secret, name="new_secret"),
]
