from __future__ import annotations

from django.urls import URLPattern, path

from portal.records import share_views

app_name = "record_sharing"

urlpatterns: list[URLPattern] = [
    path("", share_views.link_list, name="list"),
    path("new/", share_views.new, name="new"),
    path("<int:link_id>/", share_views.detail, name="detail"),
    path("<int:link_id>/revoke/", share_views.revoke, name="revoke"),
]
