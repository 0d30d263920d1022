"""The demo-only mailbox: /demo/mailbox/"""

from __future__ import annotations

from django.urls import URLPattern

app_name = "mailbox"
urlpatterns: list[URLPattern] = []
