"""Being built (issue 9)."""

from __future__ import annotations

app_name = "staff_apps"
urlpatterns: list[object] = []
