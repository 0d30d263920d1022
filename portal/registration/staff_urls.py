from __future__ import annotations

from django.urls import path

from portal.registration import staff_views

app_name = "registration_staff"
urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("requests/<int:request_id>/", staff_views.request_detail, name="request"),
    path("requests/<int:request_id>/match/", staff_views.match_request, name="match"),
    path("requests/<int:request_id>/send-code/", staff_views.send_code, name="send_code"),
    path("requests/<int:request_id>/decline/", staff_views.decline_request, name="decline"),
    path("codes/", staff_views.find_patient, name="find_patient"),
    path("codes/<int:code_id>/revoke/", staff_views.revoke_code, name="revoke"),
    path("patients/<int:patient_id>/", staff_views.patient_codes, name="patient"),
    path("patients/<int:patient_id>/issue/", staff_views.issue_code, name="issue"),
]
