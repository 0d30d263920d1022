"""App review for administrators (/staff/apps/)."""

from __future__ import annotations

from django.urls import path

from portal.smart import staff_views

app_name = "staff_apps"
urlpatterns = [
    path("", staff_views.apps, name="list"),
    path("<int:registration_id>/approve/", staff_views.approve, name="approve"),
    path("<int:registration_id>/reject/", staff_views.reject, name="reject"),
    path("<int:registration_id>/suspend/", staff_views.suspend, name="suspend"),
]
