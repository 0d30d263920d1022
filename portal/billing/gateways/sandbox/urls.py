"""The sandbox gateway's own endpoints (what a real processor hosts): /billing/sandbox-gateway/."""

from __future__ import annotations

from django.urls import path

from portal.billing.gateways.sandbox import views

app_name = "sandbox_gateway"
urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("authenticate/<str:reference>/", views.authenticate, name="authenticate"),
]
