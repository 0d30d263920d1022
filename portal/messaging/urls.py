"""Patient-side messaging: /messages/."""

from __future__ import annotations

from django.urls import path

from portal.messaging import views_patient

app_name = "messaging"
urlpatterns = [
    path("<int:thread_id>/", views_patient.thread, name="thread"),
]
