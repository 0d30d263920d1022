from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.scheduling import views_schedules as views

app_name = "schedules"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("clinicians/<row_id:practitioner_id>/", views.clinician, name="clinician"),
    path("clinicians/<row_id:practitioner_id>/sessions/new/", views.add_template, name="add_template"),
    path(
        "clinicians/<row_id:practitioner_id>/sessions/<row_id:template_id>/end/",
        views.end_template,
        name="end_template",
    ),
    path(
        "clinicians/<row_id:practitioner_id>/sessions/<row_id:template_id>/remove/",
        views.remove_template,
        name="remove_template",
    ),
    path("clinicians/<row_id:practitioner_id>/blocks/new/", views.add_block, name="add_block"),
    path("clinicians/<row_id:practitioner_id>/blocks/<row_id:block_id>/", views.block, name="block"),
    path(
        "clinicians/<row_id:practitioner_id>/blocks/<row_id:block_id>/remove/",
        views.remove_block,
        name="remove_block",
    ),
    path("visit-types/", views.visit_types, name="visit_types"),
    path("visit-types/new/", views.visit_type, name="add_visit_type"),
    path("visit-types/<row_id:visit_type_id>/", views.visit_type, name="visit_type"),
]
