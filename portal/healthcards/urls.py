from __future__ import annotations

from django.urls import URLPattern, path

from portal.healthcards import views

app_name = "healthcards"

urlpatterns: list[URLPattern] = [
    # Verifiers fetch the issuer's key from <iss>/.well-known/jwks.json: at the site root.
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("health-cards/", views.choose, name="choose"),
    path("health-cards/immunizations/", views.card, {"kind": "immunizations"}, name="immunizations"),
    path(
        "health-cards/immunizations/download",
        views.download,
        {"kind": "immunizations"},
        name="immunizations_file",
    ),
    path("health-cards/labs/", views.card, {"kind": "labs"}, name="labs"),
    path("health-cards/labs/download", views.download, {"kind": "labs"}, name="labs_file"),
]
