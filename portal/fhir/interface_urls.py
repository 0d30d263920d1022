from __future__ import annotations

from django.urls import URLPattern, path

from portal.fhir import views

app_name = "interfaces"

urlpatterns: list[URLPattern] = [
    path("import", views.import_view, name="import"),
]
