from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.records import staff_views as views

app_name = "staff_records"

urlpatterns: list[URLPattern] = [
    path("patients/<row_id:patient_id>/", views.record_page, name="record"),
    path("patients/<row_id:patient_id>/results/new/", views.new_result, name="new_result"),
    path("patients/<row_id:patient_id>/results/<row_id:report_id>/", views.result_page, name="result"),
    path("patients/<row_id:patient_id>/results/<row_id:report_id>/release/", views.release, name="release"),
    path("patients/<row_id:patient_id>/results/<row_id:report_id>/review/", views.review, name="review"),
    path(
        "patients/<row_id:patient_id>/values/<row_id:observation_id>/correct/",
        views.correct_observation,
        name="correct_observation",
    ),
    path("patients/<row_id:patient_id>/notes/new/", views.new_note, name="new_note"),
    path(
        "patients/<row_id:patient_id>/notes/<row_id:note_id>/correct/",
        views.correct_note,
        name="correct_note",
    ),
    path(
        "patients/<row_id:patient_id>/notes/<row_id:note_id>/entered-in-error/",
        views.note_in_error,
        name="note_in_error",
    ),
    path("held/", views.held_queue, name="held"),
    path("amendments/", views.amendment_queue, name="amendments"),
    path("amendments/<row_id:request_id>/", views.amendment_page, name="amendment"),
    path("hold-rules/", views.hold_rules, name="hold_rules"),
    path("hold-rules/<row_id:rule_id>/deactivate/", views.deactivate_hold_rule, name="deactivate_hold_rule"),
]
