"""Backend services and patient groups for administrators (/staff/bulk/)."""

from __future__ import annotations

from django.urls import path

from portal.bulk import staff_views

app_name = "staff_bulk"
urlpatterns = [
    path("", staff_views.home, name="list"),
    path("services/new/", staff_views.register_service, name="register"),
    path("services/<int:service_id>/", staff_views.service, name="service"),
    path("services/<int:service_id>/keys/", staff_views.service_keys, name="keys"),
    path("services/<int:service_id>/suspend/", staff_views.suspend, name="suspend"),
    path("services/<int:service_id>/reinstate/", staff_views.reinstate, name="reinstate"),
    path("groups/new/", staff_views.new_group, name="new_group"),
    path("groups/<int:group_id>/", staff_views.group, name="group"),
]
