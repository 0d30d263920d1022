"""Being built (issue 9)."""

from __future__ import annotations

app_name = "connected_apps"
urlpatterns: list[object] = []
