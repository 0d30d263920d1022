"""The review team's side of e-visits: /staff/e-visits/."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.telehealth import staff_views_evisits

app_name = "staff_evisits"
urlpatterns = [
    path("", staff_views_evisits.queue, name="queue"),
    path("<row_id:evisit_id>/", staff_views_evisits.review, name="review"),
    path("<row_id:evisit_id>/claim/", staff_views_evisits.claim, name="claim"),
    path("<row_id:evisit_id>/reply/", staff_views_evisits.reply, name="reply"),
    path("<row_id:evisit_id>/redirect/", staff_views_evisits.redirect_to_visit, name="redirect"),
    path("<row_id:evisit_id>/photos/<row_id:photo_id>/", staff_views_evisits.photo, name="photo"),
]
