"""The patient's video visit pages: /video/<appointment>/ (device check, waiting room, call)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.telehealth import views_video

app_name = "video"
urlpatterns = [
    path("<row_id:appointment_id>/", views_video.visit, name="visit"),
    path("<row_id:appointment_id>/join/", views_video.join, name="join"),
    path("<row_id:appointment_id>/leave/", views_video.leave, name="leave"),
]
