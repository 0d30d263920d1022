"""Staff notifications in the workspace: /staff/notifications/"""

from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.notifications import views_staff

app_name = "staff_notifications"
urlpatterns: list[URLPattern] = [
    path("", views_staff.notification_list, name="list"),
    path("<row_id:notification_id>/open/", views_staff.open_notification, name="open"),
    path("read-all/", views_staff.mark_all_read, name="read_all"),
]
