"""The FHIR R4 API: /fhir/r4/ (metadata, SMART discovery, read and search)."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from portal.bulk import views as bulk
from portal.fhir.api import views
from portal.smart import discovery

app_name = "fhir_api"
urlpatterns: list[URLPattern] = [
    path("metadata", views.metadata, name="metadata"),
    path(".well-known/smart-configuration", discovery.smart_configuration, name="smart_configuration"),
    # Bulk data (backend services): before the patterns below, which would read "Patient/$export"
    # as a Patient id and "Group" as a patient API type.
    path("$export", bulk.export_system, name="bulk_export"),
    path("Patient/$export", bulk.export_patients, name="bulk_export_patients"),
    path("Group/<str:group_id>/$export", bulk.export_group, name="bulk_export_group"),
    path("Group/<str:group_id>", bulk.group_read, name="group_read"),
    path("Group", bulk.group_search, name="group_search"),
    path("bulk/status/<int:job_id>", bulk.status, name="bulk_status"),
    path("bulk/files/<int:file_id>", bulk.download, name="bulk_file"),
    path("Patient/<str:resource_id>/$everything", views.everything, name="everything"),
    path("<str:type_name>/_search", views.search_post, name="search_post"),
    path("<str:type_name>/<str:resource_id>", views.read, name="read"),
    path("<str:type_name>", views.search, name="search"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
