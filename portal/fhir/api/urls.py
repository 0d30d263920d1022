"""The FHIR R4 API: /fhir/r4/ (metadata, SMART discovery, read and search)."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from portal.fhir.api import views
from portal.smart import discovery

app_name = "fhir_api"
urlpatterns: list[URLPattern] = [
    path("metadata", views.metadata, name="metadata"),
    path(".well-known/smart-configuration", discovery.smart_configuration, name="smart_configuration"),
    path("Patient/<str:resource_id>/$everything", views.everything, name="everything"),
    path("<str:type_name>/_search", views.search_post, name="search_post"),
    path("<str:type_name>/<str:resource_id>", views.read, name="read"),
    path("<str:type_name>", views.search, name="search"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
