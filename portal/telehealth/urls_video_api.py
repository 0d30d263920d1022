"""The signaling and chat a video visit's page polls, for every participant: /video/<appointment>/api/."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.telehealth import views_signaling

app_name = "video_api"
urlpatterns = [
    path("<row_id:appointment_id>/api/poll/", views_signaling.poll, name="poll"),
    path("<row_id:appointment_id>/api/signal/", views_signaling.signal, name="signal"),
    path("<row_id:appointment_id>/api/chat/", views_signaling.chat, name="chat"),
]
