"""Test-wide setup: the test settings mode, personas, and the real-service switches.

PostgreSQL and Chromium tests run when those are present. Without them the tests are
skipped with a message saying so, unless PORTAL_REQUIRE_SERVICES=1 (set by CI), which
turns their absence into a failure.
"""

from __future__ import annotations

import os
from typing import Any

os.environ["PORTAL_ENV"] = "test"

import pytest
from django.db import connections

from portal.test import World, as_if_migrated, make_world


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` first, the rest in their usual order.

    xdist's worksteal hands each worker a share and lets an idle one take the tail of
    another's queue. A two-minute test left near the end of a queue cannot be taken over,
    and one core would sit idle until it finished; first, it runs while the other worker
    works through short tests. This runs before pytest-django's own stable sort (database
    tests, then transactional ones, then the rest), which must keep the last word: a
    transactional test empties the tables that the plain database tests expect filled.
    """
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django's test databases, made to look as `migrate` leaves them (see settings_test)."""
    with django_db_blocker.unblock():
        for connection in connections.all():
            as_if_migrated(connection)


@pytest.fixture
def world(db: None) -> World:
    return make_world()
