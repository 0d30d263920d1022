"""The staff inbox: /staff/inbox/."""

from __future__ import annotations

from django.urls import path

from portal.messaging import views_inbox

app_name = "inbox"
urlpatterns = [
    path("threads/<int:thread_id>/", views_inbox.thread, name="thread"),
]
