"""How DATABASE_URL and the DATABASE_* variables become Django's database settings.

Settings load once a process, so each variant is read in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
PRINT_DATABASE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "d = settings.DATABASES['default']; "
    "print(json.dumps({'options': d.get('OPTIONS', {}), 'max_age': d['CONN_MAX_AGE']}))"
)


def _database_settings(tmp_path: Path, **env: str) -> dict[str, Any]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    environment.update(
        DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_ENV="test", PORTAL_DATA_DIR=str(tmp_path), **env
    )
    answer = subprocess.run(  # noqa: S603  (our own interpreter and a fixed snippet)
        [sys.executable, "-c", PRINT_DATABASE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


POSTGRES_URL = "postgres://portal@db.internal:5432/portal"


def test_postgresql_pools_and_prepares_statements_by_default(tmp_path: Path) -> None:
    found = _database_settings(tmp_path, DATABASE_URL=POSTGRES_URL)
    assert found["options"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "pool": {"min_size": 1, "max_size": 10},
    }
    assert found["max_age"] == 0


def test_options_in_the_url_survive_the_pool(tmp_path: Path) -> None:
    # The pool used to replace the URL's options, silently dropping sslmode=require.
    found = _database_settings(
        tmp_path, DATABASE_URL=f"{POSTGRES_URL}?sslmode=require", DATABASE_POOL_SIZE="4"
    )
    assert found["options"]["sslmode"] == "require"
    assert found["options"]["pool"] == {"min_size": 1, "max_size": 4}


def test_prepared_statements_and_the_pool_can_each_be_turned_off(tmp_path: Path) -> None:
    found = _database_settings(
        tmp_path,
        DATABASE_URL=f"{POSTGRES_URL}?sslmode=verify-full",
        DATABASE_PREPARED_STATEMENTS="false",
        DATABASE_POOL="false",
        CONN_MAX_AGE="30",
    )
    assert found == {"options": {"sslmode": "verify-full"}, "max_age": 30}


def test_statements_are_prepared_without_the_pool_too(tmp_path: Path) -> None:
    found = _database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, DATABASE_POOL="false")
    assert found == {"options": {"server_side_binding": True, "prepare_threshold": 5}, "max_age": 60}


def test_url_options_survive_with_only_the_pool(tmp_path: Path) -> None:
    found = _database_settings(
        tmp_path, DATABASE_URL=f"{POSTGRES_URL}?sslmode=require", DATABASE_PREPARED_STATEMENTS="no"
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
