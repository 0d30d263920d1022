from __future__ import annotations

from django.urls import path

from portal.scheduling import views_checkin as views

app_name = "checkin"

urlpatterns = [
    path("<int:appointment_id>/", views.start, name="start"),
    path("<int:appointment_id>/details/", views.details, name="details"),
    path("<int:appointment_id>/medications/", views.medications, name="medications"),
    path("<int:appointment_id>/allergies/", views.allergies, name="allergies"),
    path("<int:appointment_id>/insurance/", views.insurance, name="insurance"),
    path("<int:appointment_id>/insurance/add/", views.insurance_add, name="insurance_add"),
    path(
        "<int:appointment_id>/questionnaires/<int:questionnaire_id>/",
        views.questionnaire,
        name="questionnaire",
    ),
    path("<int:appointment_id>/consents/<int:form_id>/", views.consent, name="consent"),
    path("<int:appointment_id>/staff/", views.staff, name="staff"),
    path("cards/<int:coverage_id>/<str:side>/", views.card, name="card"),
]
