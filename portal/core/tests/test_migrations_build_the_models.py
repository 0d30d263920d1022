"""`migrate` on an empty database builds the schema the models describe.

The test databases are built straight from the models (settings_test.py) and only marked
as migrated, so this is the one test that replays every migration from nothing, on each
engine: in a subprocess, into a new database, whose tables, columns and constraints must
be those of the test database. It catches a migration that fails on a new install and
one that builds something other than what the models say.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from portal.test import answer_of_new_process

MIGRATE_AND_DESCRIBE = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from portal.core.tests.test_migrations_build_the_models import schema_of
call_command("migrate", interactive=False, verbosity=0)
print(json.dumps(schema_of(connection)))
"""


def schema_of(database: BaseDatabaseWrapper) -> dict[str, Any]:
    """Each table's columns (name, type, nullable) and constraints (columns and kind), names aside.

    Constraint names are left out: SQLite names its automatic indexes by position.
    """
    schema: dict[str, Any] = {}
    introspection = database.introspection
    with database.cursor() as cursor:
        for table in sorted(introspection.table_names(cursor)):
            columns = sorted(
                [row.name, str(row.type_code), bool(row.null_ok)]
                for row in introspection.get_table_description(cursor, table)
            )
            constraints = sorted(
                [
                    sorted(found["columns"] or []),
                    *(bool(found.get(kind)) for kind in ("primary_key", "unique", "index", "check")),
                    list(found["foreign_key"] or []),
                ]
                for found in introspection.get_constraints(cursor, table).values()
            )
            schema[table] = {"columns": columns, "constraints": constraints}
    return schema


# Where `migrate` and the models legitimately differ, with why. On PostgreSQL the
# auto-created table behind Group.permissions gets a bigint id from migrations and an
# integer one from the model (Django's own auth app; nothing the portal writes reads it).
KNOWN_DIFFERENCES = {("auth_group_permissions", "id")}


def _without_known(schema: dict[str, Any]) -> dict[str, Any]:
    for table, column in KNOWN_DIFFERENCES:
        if table in schema:
            schema[table]["columns"] = [row for row in schema[table]["columns"] if row[0] != column]
    return schema


@pytest.fixture
def new_database_url(tmp_path: Path) -> Iterator[str]:
    """A URL for a database nobody has made yet, on the engine the tests run on."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.sqlite3'}"
        return
    import psycopg

    settings = connection.settings_dict
    name = f"{settings['NAME']}_from_migrations"
    server = f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} user={settings['USER']}"
    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"
    finally:
        with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.long
@pytest.mark.django_db
def test_migrating_a_new_database_builds_what_the_models_describe(new_database_url: str) -> None:
    described = answer_of_new_process(MIGRATE_AND_DESCRIBE, DATABASE_URL=new_database_url, DATABASE_POOL="0")
    migrated = _without_known(described)
    built = _without_known(json.loads(json.dumps(schema_of(connection))))
    assert len(built) > 100 and sum(len(table["constraints"]) for table in built.values()) > 500
    assert sorted(migrated) == sorted(built), "the two databases have different tables"
    differing = [table for table in built if migrated[table] != built[table]]
    assert not differing, f"{differing}\n" + "\n".join(
        f"{table}:\n  migrated {migrated[table]}\n  built    {built[table]}" for table in differing[:3]
    )
