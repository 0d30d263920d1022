"""The patient's e-visits: /e-visits/."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.telehealth import views_evisits

app_name = "evisits"
urlpatterns = [
    path("", views_evisits.evisit_list, name="list"),
    path("new/", views_evisits.choose_condition, name="choose"),
    path("new/<slug:condition_slug>/", views_evisits.questionnaire, name="questionnaire"),
    path("<row_id:evisit_id>/", views_evisits.evisit_detail, name="detail"),
    path("<row_id:evisit_id>/photos/", views_evisits.add_photo, name="add_photo"),
    path("<row_id:evisit_id>/photos/<row_id:photo_id>/", views_evisits.photo, name="photo"),
    path(
        "<row_id:evisit_id>/photos/<row_id:photo_id>/remove/", views_evisits.remove_photo, name="remove_photo"
    ),
    path("<row_id:evisit_id>/submit/", views_evisits.submit, name="submit"),
    path("<row_id:evisit_id>/withdraw/", views_evisits.withdraw, name="withdraw"),
]
