from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_chain
from portal.test import World

WRITERS = 4
EVENTS_EACH = 15


def _append_many(world: World, writer: int) -> None:
    try:
        for n in range(EVENTS_EACH):
            record(
                Actor(user=None, client_ip="127.0.0.1"),
                "patient.view",
                kind=Kind.READ,
                detail={"w": writer, "n": n},
            )
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database that several connections can write at once (runs on PostgreSQL)")
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(lambda writer: _append_many(world, writer), range(WRITERS)))
    assert AuditEvent.objects.count() == WRITERS * EVENTS_EACH
    assert verify_chain() == (WRITERS * EVENTS_EACH, [])
