"""Dumping and loading the portal's database: SQLite through its online backup API,
PostgreSQL through pg_dump and pg_restore.

Each dump comes with the row count of every table and the applied migrations, read from
the same snapshot as the dump, so the manifest describes exactly what was archived.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.db import connections

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.ops.errors import Incompatible, OpsError
from portal.patients.models import Patient

# Tables whose rows mean the database holds a clinic's data, not just what `migrate` writes.
DATA_MODELS = (User, Patient, AuditEvent)
# pg_dump and pg_restore get the connection as libpq environment variables, so no
# password appears in their argv (visible to every user on the machine).
CONNECTION_ENVIRONMENT = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
}
# The libpq connection options Django's OPTIONS may carry (its "pool" and the rest are Django's).
LIBPQ_ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}


@dataclass(frozen=True)
class Snapshot:
    """What the dump holds: rows per table and the latest applied migration per app."""

    row_counts: dict[str, int]
    migrations: dict[str, str]
    server_version: str


class Database(Protocol):
    vendor: str
    dump_name: str

    def dump(self, path: Path) -> Snapshot: ...

    def load(self, path: Path, backup_tables: Iterable[str], *, replace: bool) -> None: ...


def current_database() -> Database:
    connection = connections["default"]
    if connection.vendor == "sqlite":
        return SqliteDatabase(Path(connection.settings_dict["NAME"]))
    if connection.vendor == "postgresql":
        return PostgresDatabase(connection.settings_dict)
    raise Incompatible(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")


def quote(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def count_rows(cursor: Any, tables: Iterable[str]) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608  (a quoted catalog name)  # nosec B608
        counts[table] = int(cursor.fetchone()[0])
    return counts


def latest_migrations(cursor: Any, tables: Iterable[str]) -> dict[str, str]:
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    # Later rows overwrite earlier ones: the last applied migration of each app wins.
    return {app: name for app, name in cursor.fetchall()}


def sqlite_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [name for (name,) in cursor.fetchall()]


def postgres_tables(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
    )
    return [name for (name,) in cursor.fetchall()]


def current_tables() -> list[str]:
    """The tables of the configured database, through Django's connection."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        return sqlite_tables(cursor) if connection.vendor == "sqlite" else postgres_tables(cursor)


def current_row_counts() -> dict[str, int]:
    with connections["default"].cursor() as cursor:
        return count_rows(cursor, current_tables())


def holds_data() -> bool:
    """Whether the configured database has accounts, patients or audit events."""
    tables = set(current_tables())
    with connections["default"].cursor() as cursor:
        for model in DATA_MODELS:
            table = model._meta.db_table
            if table in tables:
                cursor.execute(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608  (a model's table)  # nosec B608
                if cursor.fetchone() is not None:
                    return True
    return False


def close_django_connections() -> None:
    """Let go of the database, so a restore is not blocked by our own idle connection."""
    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


class SqliteDatabase:
    """The embedded database: one file, copied page by page under a read lock."""

    vendor = "sqlite"
    dump_name = "portal.sqlite3"

    def __init__(self, path: Path) -> None:
        self.path = path

    def dump(self, path: Path) -> Snapshot:
        if not self.path.exists():
            raise OpsError(f"There is no database at {self.path} to back up.")
        source = sqlite3.connect(self.path, timeout=20)
        target = sqlite3.connect(path)
        try:
            # One step (pages=-1) copies the whole file under one read lock: a consistent
            # snapshot, while WAL lets the running portal keep writing.
            source.backup(target)
            # A standalone file: no -wal beside it to forget.
            target.execute("PRAGMA journal_mode=DELETE")
            (check,) = target.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise OpsError(f"The database copy fails SQLite's integrity check: {check}")
            cursor = target.cursor()
            tables = sqlite_tables(cursor)
            return Snapshot(
                row_counts=count_rows(cursor, tables),
                migrations=latest_migrations(cursor, tables),
                server_version=sqlite3.sqlite_version,
            )
        finally:
            target.close()
            source.close()

    def load(self, path: Path, backup_tables: Iterable[str], *, replace: bool) -> None:
        close_django_connections()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # A -wal left beside a deleted database would be replayed into the new one.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        source = sqlite3.connect(path)
        target = sqlite3.connect(self.path, timeout=20)
        try:
            # The backup API replaces every page of the target in one write transaction:
            # tables the backup lacks disappear, and a failure leaves the target as it was.
            source.backup(target)
        except sqlite3.Error as error:
            raise OpsError(f"Could not write the database {self.path}: {error}") from error
        finally:
            target.close()
            source.close()


class PostgresDatabase:
    """A PostgreSQL database, dumped in pg_dump's custom format from an exported snapshot."""

    vendor = "postgresql"
    dump_name = "portal.pgdump"

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        self.settings_dict = settings_dict

    def environment(self) -> dict[str, str]:
        """The connection, for pg_dump, pg_restore and psycopg, as libpq environment variables."""
        config = self.settings_dict
        environment = dict(os.environ)
        for key, name in zip(
            ("HOST", "PORT", "USER", "PASSWORD", "NAME"), CONNECTION_ENVIRONMENT.values(), strict=True
        ):
            if config.get(key):
                environment[name] = str(config[key])
        for option, name in LIBPQ_ENVIRONMENT.items():
            if option in config.get("OPTIONS", {}):
                environment[name] = str(config["OPTIONS"][option])
        return environment

    def connect(self, **kwargs: Any) -> Any:
        import psycopg
        from psycopg.conninfo import make_conninfo

        environment = self.environment()
        names = {**CONNECTION_ENVIRONMENT, **LIBPQ_ENVIRONMENT}
        parameters = {option: environment[name] for option, name in names.items() if name in environment}
        return psycopg.connect(make_conninfo("", **parameters), **kwargs)

    def dump(self, path: Path) -> Snapshot:
        from psycopg import IsolationLevel

        with self.connect() as connection:
            connection.isolation_level = IsolationLevel.REPEATABLE_READ
            connection.read_only = True
            major = connection.info.server_version // 10000
            pg_dump = client_tool("pg_dump", major)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot_id,) = cursor.fetchone()
                # pg_dump reads the snapshot this transaction exported, so the dump and the
                # counts below describe the same instant.
                self._run(
                    [pg_dump, "--format=custom", f"--snapshot={snapshot_id}", f"--file={path}"],
                    "pg_dump",
                )
                tables = postgres_tables(cursor)
                snapshot = Snapshot(
                    row_counts=count_rows(cursor, tables),
                    migrations=latest_migrations(cursor, tables),
                    server_version=connection.info.parameter_status("server_version") or str(major),
                )
            connection.rollback()
        return snapshot

    def load(self, path: Path, backup_tables: Iterable[str], *, replace: bool) -> None:
        close_django_connections()
        keep = set(backup_tables)
        with self.connect(autocommit=True) as connection:
            pg_restore = client_tool("pg_restore", connection.info.server_version // 10000)
            with connection.cursor() as cursor:
                extra = [table for table in postgres_tables(cursor) if table not in keep]
                # Tables a newer version added would block `migrate` after restoring an older
                # backup; pg_restore --clean drops only the tables in the dump. Only with the
                # operator's consent: without it, they may be another application's.
                if extra and replace:
                    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(map(quote, extra))} CASCADE")
        self._run(
            [
                pg_restore,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={self.settings_dict['NAME']}",
                str(path),
            ],
            "pg_restore",
        )

    def _run(self, argv: list[str], tool: str) -> None:
        result = subprocess.run(  # noqa: S603  (a tool found on PATH, arguments built here)  # nosec B603
            argv, env=self.environment(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise OpsError(f"{tool} failed (exit {result.returncode}): {result.stderr.strip()}")


def client_tool(name: str, server_major: int) -> str:
    """pg_dump or pg_restore from PATH, refused when older than the server."""
    found = shutil.which(name)
    if found is None:
        raise OpsError(
            f"{name} is not on PATH. Install the PostgreSQL client tools, version {server_major} "
            f"or newer (Debian: apt install postgresql-client-{server_major})."
        )
    output = subprocess.run(  # noqa: S603  (the tool found above, fixed argument)  # nosec B603
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"\)\s*(\d+)", output) or re.search(r"(\d+)", output)
    if match is None:
        raise OpsError(f"Could not tell the version of {found} from {output.strip()!r}.")
    if int(match.group(1)) < server_major:
        raise OpsError(
            f"{found} is version {match.group(1)}, older than the PostgreSQL server ({server_major}). "
            f"Put the client tools of version {server_major} or newer first on PATH."
        )
    return found
