"""The demo-only mailbox: /demo/mailbox/"""

from __future__ import annotations

from django.urls import path

from portal.notifications import views_mailbox

app_name = "mailbox"
urlpatterns = [
    path("", views_mailbox.mailbox, name="list"),
]
