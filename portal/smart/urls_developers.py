"""Being built (issue 9)."""

from __future__ import annotations

app_name = "developers"
urlpatterns: list[object] = []
