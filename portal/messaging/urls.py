"""Patient-side messaging: /messages/."""

from __future__ import annotations

from django.urls import path

from portal.messaging import views_patient

app_name = "messaging"
urlpatterns = [
    path("", views_patient.inbox, name="list"),
    path("new/", views_patient.compose, name="new"),
    path("<int:thread_id>/", views_patient.thread, name="thread"),
    path("<int:thread_id>/reply/", views_patient.reply, name="reply"),
    path("<int:thread_id>/archive/", views_patient.archive, name="archive"),
    path("attachments/<int:attachment_id>/", views_patient.attachment, name="attachment"),
]
