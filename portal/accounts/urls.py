from __future__ import annotations

from django.urls import path

from portal.accounts import views

app_name = "accounts"

urlpatterns = [
    path("security/", views.security, name="security"),
    path("two-factor/setup/", views.mfa_setup, name="mfa_setup"),
    path("username/forgot/", views.forgot_username, name="forgot_username"),
    path("username/forgot/done/", views.forgot_username_done, name="forgot_username_done"),
    path("session/", views.session_status, name="session_status"),
    path("session/extend/", views.session_extend, name="session_extend"),
]
