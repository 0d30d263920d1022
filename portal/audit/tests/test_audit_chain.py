from __future__ import annotations

import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_chain
from portal.test import World

pytestmark = pytest.mark.django_db


def _write_events(world: World, count: int = 5) -> None:
    actor = Actor(user=world.clinician, client_ip="127.0.0.1")
    for n in range(count):
        record(actor, "patient.view", kind=Kind.READ, patient=world.alice, detail={"n": n})


def _tamper(sql: str, params: list[str | int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_links_every_event_to_the_one_before(world: World) -> None:
    _write_events(world)
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.previous_hash == before.row_hash
    assert verify_chain() == (len(events), [])


def test_verify_command_passes_on_an_intact_chain(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _write_events(world)
    call_command("audit", "verify")
    assert "intact" in capsys.readouterr().out


def test_verify_command_catches_an_edited_row(world: World) -> None:
    _write_events(world)
    _tamper("UPDATE audit_auditevent SET actor_label = %s WHERE sequence = %s", ["someone else", 3])
    with pytest.raises(CommandError, match="broken"):
        call_command("audit", "verify")
    _count, problems = verify_chain()
    assert [p.sequence for p in problems] == [3]


def test_verify_catches_a_deleted_row(world: World) -> None:
    _write_events(world)
    _tamper("DELETE FROM audit_auditevent WHERE sequence = %s", [2])
    _count, problems = verify_chain()
    assert problems and problems[0].sequence == 2


def test_verify_catches_rows_cut_off_the_end(world: World) -> None:
    _write_events(world)
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last is not None
    _tamper("DELETE FROM audit_auditevent WHERE sequence = %s", [last.sequence])
    _count, problems = verify_chain()
    assert any("end of the chain" in p.message for p in problems)


def test_verify_catches_a_rehashed_forgery(world: World) -> None:
    """Rewriting a row and its own hash still breaks the link to the next row."""
    _write_events(world)
    forged = AuditEvent.objects.get(sequence=2)
    forged.actor_label = "nobody"
    new_hash = forged.compute_hash()
    _tamper(
        "UPDATE audit_auditevent SET actor_label = %s, row_hash = %s WHERE sequence = 2", ["nobody", new_hash]
    )
    _count, problems = verify_chain()
    assert [p.sequence for p in problems] == [3]


def test_the_model_refuses_updates_and_deletes(world: World) -> None:
    _write_events(world, 1)
    event = AuditEvent.objects.get()
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_database_triggers_refuse_updates_and_deletes(world: World) -> None:
    from importlib import import_module

    migration = import_module("portal.audit.migrations.0002_chain_head_and_append_only")
    triggers = {"sqlite": migration.SQLITE_TRIGGERS, "postgresql": migration.POSTGRES_TRIGGERS}[
        connection.vendor
    ]
    _write_events(world, 1)
    with connection.cursor() as cursor:
        for statement in triggers:
            cursor.execute(statement)
    with pytest.raises(DatabaseError), transaction.atomic():
        _tamper("UPDATE audit_auditevent SET actor_label = %s", ["x"])
    with pytest.raises(DatabaseError), transaction.atomic():
        _tamper("DELETE FROM audit_auditevent", [])
    assert AuditEvent.objects.get().actor_label != "x"
