from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.scheduling import views_appointments as views

app_name = "appointments"

urlpatterns = [
    path("", views.appointment_list, name="list"),
    path("<row_id:appointment_id>/", views.appointment_detail, name="detail"),
    path("<row_id:appointment_id>/cancel/", views.cancel, name="cancel"),
    path("<row_id:appointment_id>/reschedule/", views.reschedule, name="reschedule"),
    path("<row_id:appointment_id>/calendar.ics", views.calendar_file, name="ics"),
    path("<row_id:appointment_id>/notice/", views.notice, name="notice"),
]
