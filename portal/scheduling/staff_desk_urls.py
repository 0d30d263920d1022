from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.scheduling import views_desk, views_desk_book, views_desk_day

app_name = "desk"

urlpatterns: list[URLPattern] = [
    path("", views_desk.home, name="home"),
    path("book/", views_desk_book.book, name="book"),
    path("requests/<row_id:request_id>/", views_desk.request_page, name="request"),
    path("requests/<row_id:request_id>/offer/", views_desk.offer, name="offer"),
    path("requests/<row_id:request_id>/book/", views_desk.book_request, name="book_request"),
    path("requests/<row_id:request_id>/decline/", views_desk.decline, name="decline"),
    path("appointments/<row_id:appointment_id>/arrived/", views_desk_day.arrived, name="arrived"),
    path("appointments/<row_id:appointment_id>/no-show/", views_desk_day.no_show, name="no_show"),
    path("appointments/<row_id:appointment_id>/cancel/", views_desk_day.cancel, name="cancel"),
    path(
        "appointments/<row_id:appointment_id>/notices/<row_id:notice_id>/acknowledge/",
        views_desk_day.acknowledge,
        name="acknowledge",
    ),
    path("campuses/<slug:campus_slug>/", views_desk.queue, name="queue"),
    path("campuses/<slug:campus_slug>/day/", views_desk_day.day, name="day"),
]
