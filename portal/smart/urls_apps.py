"""Connected apps, on the patient side (/apps/)."""

from __future__ import annotations

from django.urls import path

from portal.smart import views_apps

app_name = "connected_apps"
urlpatterns = [
    path("", views_apps.connected_apps, name="list"),
    path("<int:authorization_id>/disconnect/", views_apps.disconnect, name="disconnect"),
]
