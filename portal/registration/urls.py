from __future__ import annotations

from django.urls import path

from portal.registration import views

app_name = "registration"
urlpatterns = [
    path("", views.create_account, name="create_account"),
    path("account/", views.choose_sign_in, name="choose_sign_in"),
    path("check-email/", views.check_email, name="check_email"),
    path("request/", views.request_access, name="request_access"),
    path("international/", views.international, name="international"),
    path("request/sent/", views.request_sent, name="request_sent"),
]
