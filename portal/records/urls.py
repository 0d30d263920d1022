from __future__ import annotations

from django.urls import URLPattern, path, register_converter

from portal.records import views, views_results, views_sections


class RecordId:
    """A row id that fits a database integer: longer digit strings are a plain 404, not an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class ObservationCode:
    """A test's code (LOINC, or a lab's local code): up to 40 characters, no slash."""

    regex = "[^/]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RecordId, "record_id")
register_converter(ObservationCode, "test_code")

app_name = "records"

urlpatterns: list[URLPattern] = [
    path("", views.summary, name="summary"),
    path("results/", views_results.results, name="results"),
    path("results/<record_id:report_id>/", views_results.result, name="result"),
    path("results/<record_id:report_id>/images/<record_id:image_id>", views_results.image, name="image"),
    path("results/trend/<test_code:code>/", views_results.trend, name="trend"),
    path("imaging/", views_results.imaging, name="imaging"),
    path("notes/", views_sections.notes, name="notes"),
    path("notes/<record_id:note_id>/", views_sections.note, name="note"),
    path("medications/", views_sections.medications, name="medications"),
    path("allergies/", views_sections.allergies, name="allergies"),
    path("immunizations/", views_sections.immunizations, name="immunizations"),
    path("problems/", views_sections.problems, name="problems"),
    path("visits/", views_sections.visits, name="visits"),
    path("visits/<record_id:visit_id>/", views_sections.visit, name="visit"),
    path("procedures/", views_sections.procedures, name="procedures"),
    path("documents/", views_sections.documents, name="documents"),
    path("documents/<record_id:document_id>/", views_sections.document, name="document"),
    path("preferences/", views.preferences, name="preferences"),
]
