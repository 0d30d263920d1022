from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.scheduling import views_waitlist as views

app_name = "waitlist"

urlpatterns = [
    path("", views.waitlist_list, name="list"),
    path("join/<row_id:appointment_id>/", views.join, name="join"),
    path("<row_id:entry_id>/leave/", views.leave, name="leave"),
    path("offers/<row_id:offer_id>/", views.offer, name="offer"),
]
