from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # allauth keeps rate limits and used one-time codes in the cache, which outlives
    # each test's database.
    cache.clear()
