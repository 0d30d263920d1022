"""The restore drill: back a portal up, wipe it, restore it, and find every row and file as it was.

The drill works on a throwaway portal, driven through `manage.py` in subprocesses as an
operator would: its own data directory, and a copy of this test run's freshly migrated
database (a SQLite file, or a uniquely named PostgreSQL database dropped afterwards). It
runs on whichever database the suite runs on: SQLite by default, PostgreSQL in the
suite's PostgreSQL pass (tools/test.sh; `DATABASE_URL=postgres://...`).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from portal.ops.manifest import MANIFEST_NAME, FileEntry, Manifest

ROOT = Path(__file__).resolve().parents[3]
TRIGGERS = import_module("portal.audit.migrations.0002_chain_head_and_append_only")
# Copying the session's migrated database is what keeps the drill fast, so each pass of
# the suite drills its own database.
ELSEWHERE = {
    "postgresql": "The PostgreSQL restore drill runs when the suite runs on PostgreSQL: "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal (tools/test.sh runs that pass, and says "
    "so when PostgreSQL is unreachable).",
    "sqlite": "The SQLite restore drill runs in the suite's SQLite pass (no DATABASE_URL).",
}


@dataclass
class Portal:
    """A portal of its own: a data directory, and a database URL ("" for SQLite in the directory)."""

    data_dir: Path
    database_url: str

    @property
    def media(self) -> Path:
        return self.data_dir / "media"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "SQLITE_TEST_NAME"}
        }
        environment.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(self.data_dir))
        if self.database_url:
            environment["DATABASE_URL"] = self.database_url
        return subprocess.run(  # noqa: S603  (our own interpreter and manage.py)
            [sys.executable, str(ROOT / "manage.py"), *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=ROOT,
            check=False,
            timeout=300,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def rows(self) -> dict[str, list[list[Any]]]:
        path = self.data_dir.parent / f"rows-{uuid.uuid4().hex}.json"
        self.ok("shell", "-c", f"from portal.ops.tests.drill import dump; dump({str(path)!r})")
        rows: dict[str, list[list[Any]]] = json.loads(path.read_text(encoding="utf-8"))
        return rows

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """Run one statement straight against the portal's database, as a DBA would."""
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as database:
                cursor = database.execute(statement)
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(self.data_dir / "portal.sqlite3") as database:
            return database.execute(statement).fetchall()

    def files(self) -> dict[str, bytes]:
        return {
            path.relative_to(self.media).as_posix(): path.read_bytes()
            for path in sorted(self.media.rglob("*"))
            if path.is_file()
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def portal(request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path) -> Iterator[Portal]:
    """A throwaway portal on a copy of the freshly migrated test database, with the audit
    triggers production has. `transactional_db`, because SQLite cannot copy a database its
    own connection holds a write transaction on (the `db` fixture's), and retries forever."""
    if request.param != connection.vendor:
        pytest.skip(ELSEWHERE[request.param])
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if connection.vendor == "sqlite":
        path = data_dir / "portal.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.executescript("\n".join(TRIGGERS.SQLITE_TRIGGERS))
        target.close()
        yield Portal(data_dir, "")
        return
    yield from _postgres_portal(data_dir, tmp_path)


def _postgres_portal(data_dir: Path, tmp_path: Path) -> Iterator[Portal]:
    import psycopg

    config = connection.settings_dict
    name = f"portal_drill_{uuid.uuid4().hex[:12]}"
    admin_url, url = _url(config, "postgres"), _url(config, name)
    schema = tmp_path / "schema.pgdump"
    # The test database is migrated already: copying it is much faster than migrating anew.
    subprocess.run(  # noqa: S603  (pg_dump from PATH, arguments built here)
        ["pg_dump", "--format=custom", f"--file={schema}", f"--dbname={_url(config, config['NAME'])}"],  # noqa: S607
        check=True,
        capture_output=True,
    )
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(  # noqa: S603
            ["pg_restore", "--no-owner", f"--dbname={url}", str(schema)],  # noqa: S607
            check=True,
            capture_output=True,
        )
        with psycopg.connect(url, autocommit=True) as drill:
            for statement in TRIGGERS.POSTGRES_TRIGGERS:
                drill.execute(statement)
        yield Portal(data_dir, url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _url(config: dict[str, Any], name: str) -> str:
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    return f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{name}"


def wipe(portal: Portal) -> None:
    """Lose everything: the database's tables and every uploaded file."""
    if portal.database_url:
        import psycopg

        with psycopg.connect(portal.database_url, autocommit=True) as database:
            database.execute("DROP SCHEMA public CASCADE")
            database.execute("CREATE SCHEMA public")
    else:
        for path in portal.data_dir.glob("portal.sqlite3*"):
            path.unlink()
    if portal.media.exists():
        for path in sorted(portal.media.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        portal.media.rmdir()


def archive_path(stdout: str) -> Path:
    line = next(line for line in stdout.splitlines() if line.startswith("Wrote "))
    return Path(line.removeprefix("Wrote ").rsplit(" (", 1)[0])


def rewrite(archive: Path, target: Path, change: str) -> None:
    """A copy of the archive, its manifest kept, with one byte of the `change` member flipped."""
    with tarfile.open(archive, "r:*") as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            content = handle.read()
            if member.name == change:
                content = bytes([content[0] ^ 1]) + content[1:]
            out.addfile(member, io.BytesIO(content))


@pytest.mark.long
def test_the_restore_drill_brings_back_every_row_and_file(portal: Portal, tmp_path: Path) -> None:
    portal.ok("shell", "-c", "from portal.ops.tests.drill import seed; seed()")
    written = portal.ok("backup", "--output", str(tmp_path / "backups"))
    archive = archive_path(written)
    assert archive.parent == tmp_path / "backups"
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds health data: owner only"
    assert not [p for p in archive.parent.iterdir() if p != archive], "no temporary files left behind"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == MANIFEST_NAME
    assert not [name for name in names if name.endswith(".pem")], "keys stay out of the archive"

    # Refusals first, each with --yes where it applies: a bad archive must change nothing,
    # which the comparison at the end proves (the rows are read after these).
    media_member = next(name for name in names if name.startswith("media/messaging/"))
    rewrite(archive, tmp_path / "tampered.tar", media_member)
    tampered = portal.run("restore", str(tmp_path / "tampered.tar"), "--yes")
    assert tampered.returncode == 3, tampered.stderr
    assert f"{media_member} does not match the manifest" in tampered.stderr
    data = archive.read_bytes()
    (tmp_path / "truncated.tar.gz").write_bytes(data[: len(data) * 2 // 3])
    truncated = portal.run("restore", str(tmp_path / "truncated.tar.gz"), "--yes")
    assert truncated.returncode == 3, truncated.stderr
    assert "truncated" in truncated.stderr
    over_data = portal.run("restore", str(archive))
    assert over_data.returncode == 4, over_data.stderr
    assert "--yes" in over_data.stderr

    rows, files = portal.rows(), portal.files()
    assert rows["audit_auditevent"] and rows["messaging_attachment"] and rows["records_document"]
    assert len(files) == 2

    wipe(portal)
    restored = portal.ok("restore", str(archive))

    assert portal.rows() == rows
    assert portal.files() == files
    assert f"The audit chain is intact: {len(rows['audit_auditevent'])} events verified." in restored
    assert "Every table holds the rows the manifest records." in restored


@pytest.mark.long
def test_a_backup_from_an_older_version_is_migrated_after_restoring(portal: Portal, tmp_path: Path) -> None:
    # As if the backup were made before admin.0003 (a change of choices only: no schema
    # change to undo) was applied.
    portal.sql(
        "DELETE FROM django_migrations WHERE app = 'admin' AND name = '0003_logentry_add_action_flag_choices'"
    )
    archive = archive_path(portal.ok("backup", "--output", str(tmp_path / "backups")))
    wipe(portal)
    restored = portal.ok("restore", str(archive))
    assert (
        "Applied the migrations this backup predates: admin.0003_logentry_add_action_flag_choices" in restored
    )
    assert portal.sql("SELECT name FROM django_migrations WHERE app = 'admin' ORDER BY id")[-1] == (
        "0003_logentry_add_action_flag_choices",
    )


def _archive(tmp_path: Path, **changes: Any) -> Path:
    """A small hand-made archive: a fake database file and one upload, with a sound manifest."""
    files = {"database/portal.sqlite3": b"not really a database", "media/records/a.pdf": b"%PDF-1.4"}
    manifest = Manifest(
        created_at="2026-01-01T00:00:00+00:00",
        portal_version="test",
        vendor=connection.vendor,
        server_version="0",
        database_file="database/portal.sqlite3",
        row_counts={},
        migrations={"audit": "0002_chain_head_and_append_only"},
        files_included=True,
        files={name: _entry(content) for name, content in files.items()},
    )
    for key, value in changes.items():
        setattr(manifest, key, value)
    path = tmp_path / "hand-made.tar"
    with tarfile.open(path, "w") as tar:
        for name, content in [*files.items(), (MANIFEST_NAME, manifest.to_json())]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def _entry(content: bytes) -> FileEntry:
    import hashlib

    return FileEntry(sha256=hashlib.sha256(content).hexdigest(), size=len(content))


def _restore(archive: Path, tmp_path: Path) -> CommandError:
    with (
        override_settings(DATA_DIR=tmp_path, MEDIA_ROOT=tmp_path / "media"),
        pytest.raises(CommandError) as refused,
    ):
        call_command("restore", str(archive), "--yes")
    assert not list(tmp_path.glob(".portal-restore-*")), "the staging directory is removed"
    assert not (tmp_path / "media").exists(), "nothing was restored"
    return refused.value


def test_it_refuses_a_backup_of_another_database(tmp_path: Path) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    refused = _restore(_archive(tmp_path, vendor=other), tmp_path)
    assert refused.returncode == 5
    assert f"backup of a {other} database" in str(refused)


def test_it_refuses_a_backup_from_a_newer_version(tmp_path: Path) -> None:
    refused = _restore(_archive(tmp_path, migrations={"audit": "0099_from_the_future"}), tmp_path)
    assert refused.returncode == 5
    assert "audit.0099_from_the_future" in str(refused)


def test_it_refuses_a_path_outside_the_restore(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
    manifest["files"]["media/../../escape"] = manifest["files"].pop("media/records/a.pdf")
    bad = tmp_path / "escape.tar"
    with tarfile.open(bad, "w") as tar:
        content = json.dumps(manifest).encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    refused = _restore(bad, tmp_path)
    assert refused.returncode == 3
    assert "unsafe" in str(refused)
    assert not (tmp_path.parent / "escape").exists()


def test_backup_refuses_uploads_in_object_storage(tmp_path: Path) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages), pytest.raises(CommandError) as refused:
        call_command("backup", "--output", str(tmp_path))
    assert refused.value.returncode == 5
    assert "--skip-files" in str(refused.value)
    assert list(tmp_path.iterdir()) == []
