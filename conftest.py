"""Test-wide setup: the test settings mode, personas, and the real-service switches.

PostgreSQL and Chromium tests run when those are present. Without them the tests are
skipped with a message saying so, unless PORTAL_REQUIRE_SERVICES=1 (set by CI), which
turns their absence into a failure.
"""

from __future__ import annotations

import os

os.environ["PORTAL_ENV"] = "test"

import pytest

from portal.test import World, make_world


@pytest.fixture
def world(db: None) -> World:
    return make_world()
