"""The clinician's side of video visits: /staff/video/ (today's visits, waiting room, call)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.telehealth import staff_views_video

app_name = "staff_video"
urlpatterns = [
    path("", staff_views_video.today, name="today"),
    path("waiting/", staff_views_video.waiting_fragment, name="waiting"),
    path("<row_id:appointment_id>/", staff_views_video.visit, name="visit"),
    path("<row_id:appointment_id>/join/", staff_views_video.join, name="join"),
    path("<row_id:appointment_id>/admit/", staff_views_video.admit, name="admit"),
    path("<row_id:appointment_id>/remove/", staff_views_video.remove, name="remove"),
    path("<row_id:appointment_id>/end/", staff_views_video.end, name="end"),
    path("<row_id:appointment_id>/complete/", staff_views_video.complete, name="complete"),
    path("<row_id:appointment_id>/invite/", staff_views_video.invite, name="invite"),
    path(
        "<row_id:appointment_id>/invite/<row_id:participant_id>/withdraw/",
        staff_views_video.withdraw_invite,
        name="withdraw_invite",
    ),
]
