from __future__ import annotations

from django.urls import URLPattern, path

from portal.records import export_views

app_name = "record_export"

urlpatterns: list[URLPattern] = [
    path("", export_views.choose, name="choose"),
    path("print/", export_views.print_record, name="print"),
    path("pdf/", export_views.pdf, name="pdf"),
    path("pdf/full/", export_views.pdf_full, name="pdf_full"),
    path("fhir/", export_views.fhir, name="fhir"),
    path("fhir/full/", export_views.fhir_full, name="fhir_full"),
]
