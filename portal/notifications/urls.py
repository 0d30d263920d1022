from __future__ import annotations

from django.urls import path

from portal.notifications import unsubscribe, views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("<int:notification_id>/open/", views.open_notification, name="open"),
    path("read-all/", views.mark_all_read, name="read_all"),
    path("tasks/<int:task_id>/done/", views.complete_task, name="complete_task"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
