"""How DATABASE_URL and the DATABASE_* variables become Django's database settings.

`_database()` reads the environment each time it is called, so each variant is read here
directly; the settings module itself called it once when this process started.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from portal.settings import _database

VARIABLES = (
    "DATABASE_URL",
    "DATABASE_POOL",
    "DATABASE_POOL_SIZE",
    "DATABASE_PREPARED_STATEMENTS",
    "CONN_MAX_AGE",
)


def _database_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = _database()
    return {"options": found.get("OPTIONS", {}), "max_age": found["CONN_MAX_AGE"]}


POSTGRES_URL = "postgres://portal@db.internal:5432/portal"


def test_postgresql_pools_and_prepares_statements_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _database_settings(monkeypatch, DATABASE_URL=POSTGRES_URL)
    assert found["options"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "pool": {"min_size": 1, "max_size": 10},
    }
    assert found["max_age"] == 0


def test_options_in_the_url_survive_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pool used to replace the URL's options, silently dropping sslmode=require.
    found = _database_settings(
        monkeypatch, DATABASE_URL=f"{POSTGRES_URL}?sslmode=require", DATABASE_POOL_SIZE="4"
    )
    assert found["options"]["sslmode"] == "require"
    assert found["options"]["pool"] == {"min_size": 1, "max_size": 4}


def test_prepared_statements_and_the_pool_can_each_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _database_settings(
        monkeypatch,
        DATABASE_URL=f"{POSTGRES_URL}?sslmode=verify-full",
        DATABASE_PREPARED_STATEMENTS="false",
        DATABASE_POOL="false",
        CONN_MAX_AGE="30",
    )
    assert found == {"options": {"sslmode": "verify-full"}, "max_age": 30}


def test_statements_are_prepared_without_the_pool_too(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _database_settings(monkeypatch, DATABASE_URL=POSTGRES_URL, DATABASE_POOL="false")
    assert found == {"options": {"server_side_binding": True, "prepare_threshold": 5}, "max_age": 60}


def test_url_options_survive_with_only_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _database_settings(
        monkeypatch, DATABASE_URL=f"{POSTGRES_URL}?sslmode=require", DATABASE_PREPARED_STATEMENTS="no"
    )
    assert found["options"] == {"sslmode": "require", "pool": {"min_size": 1, "max_size": 10}}


@pytest.mark.django_db
def test_a_repeated_query_is_prepared_on_postgresql(django_user_model: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (runs on PostgreSQL)")
    for _ in range(6):
        list(django_user_model.objects.filter(username="nobody-by-this-name"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('"accounts_user"."username" = $1' in statement for statement in prepared), prepared
