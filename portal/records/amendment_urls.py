from __future__ import annotations

from django.urls import URLPattern, path, register_converter

from portal.records import amendment_views


class RowId:
    """A row id that fits a database integer: longer digit strings are a plain 404, not an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowId, "row_id")

app_name = "corrections"

urlpatterns: list[URLPattern] = [
    path("", amendment_views.request_list, name="list"),
    path("new/", amendment_views.new_request, name="new"),
    path("<row_id:request_id>/", amendment_views.request_detail, name="detail"),
]
