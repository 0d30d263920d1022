from __future__ import annotations

from django.urls import path

from portal.patients import views

app_name = "profile"
urlpatterns = [
    path("", views.details, name="details"),
    path("contact/", views.contact, name="contact"),
    path("email/", views.email, name="email"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email_confirm"),
    path("language/", views.language, name="language"),
    path("communication/", views.communication, name="communication"),
    path("deactivate/", views.deactivate, name="deactivate"),
    # Staff reopen a sign-in from the staff patient page.
    path("staff/<int:patient_id>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
]
