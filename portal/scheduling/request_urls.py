from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.scheduling import views_requests as views

app_name = "appointment_requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.new_request, name="new"),
    path("<row_id:request_id>/", views.request_detail, name="detail"),
    path("<row_id:request_id>/withdraw/", views.withdraw, name="withdraw"),
    path("offers/<row_id:offer_id>/accept/", views.accept, name="accept"),
]
