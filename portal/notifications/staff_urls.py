"""Staff notifications in the workspace: /staff/notifications/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "staff_notifications"
urlpatterns: list[URLPattern] = []
