from __future__ import annotations

from django.urls import URLPattern, path

from portal.records import share_views

app_name = "shared"

# No sign-in: whoever holds the link sees what it shares (see records/sharing.py).
urlpatterns: list[URLPattern] = [
    path("<str:token>/", share_views.open_link, name="open"),
    path("<str:token>/pdf/", share_views.open_pdf, name="pdf"),
]
