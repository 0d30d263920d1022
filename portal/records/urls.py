from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id and test_code)
from portal.records import views, views_results, views_sections

app_name = "records"

urlpatterns: list[URLPattern] = [
    path("", views.summary, name="summary"),
    path("results/", views_results.results, name="results"),
    path("results/<row_id:report_id>/", views_results.result, name="result"),
    path("results/<row_id:report_id>/images/<row_id:image_id>", views_results.image, name="image"),
    path("results/trend/<test_code:code>/", views_results.trend, name="trend"),
    path("imaging/", views_results.imaging, name="imaging"),
    path("notes/", views_sections.notes, name="notes"),
    path("notes/<row_id:note_id>/", views_sections.note, name="note"),
    path("medications/", views_sections.medications, name="medications"),
    path("allergies/", views_sections.allergies, name="allergies"),
    path("immunizations/", views_sections.immunizations, name="immunizations"),
    path("problems/", views_sections.problems, name="problems"),
    path("visits/", views_sections.visits, name="visits"),
    path("visits/<row_id:visit_id>/", views_sections.visit, name="visit"),
    path("procedures/", views_sections.procedures, name="procedures"),
    path("documents/", views_sections.documents, name="documents"),
    path("documents/<row_id:document_id>/", views_sections.document, name="document"),
    path("preferences/", views.preferences, name="preferences"),
]
