from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id and test_code)
from portal.records import amendment_views

app_name = "corrections"

urlpatterns: list[URLPattern] = [
    path("", amendment_views.request_list, name="list"),
    path("new/", amendment_views.new_request, name="new"),
    path("<row_id:request_id>/", amendment_views.request_detail, name="detail"),
]
