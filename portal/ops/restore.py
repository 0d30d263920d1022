"""`restore_backup`: check an archive completely, then put its database and files in place.

Nothing is changed until every file in the archive has matched its manifest checksum:
the files are checked while being unpacked into a staging directory beside the data,
which is removed whatever happens.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from portal.audit.verify import Problem, verify_chain
from portal.ops.backup import storage_problem
from portal.ops.database import current_database, current_row_counts, holds_data
from portal.ops.errors import ArchiveRefused, Incompatible, WouldOverwrite
from portal.ops.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest, copy_and_hash

Say = Callable[[str], None]
DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True)
class RestoreReport:
    """What was restored and how it compares with the manifest."""

    manifest: Manifest
    row_counts: dict[str, int]
    media_files: int
    migrated: list[str]
    audit_events: int
    audit_problems: list[Problem]

    @property
    def count_mismatches(self) -> list[str]:
        tables = sorted(set(self.manifest.row_counts) | set(self.row_counts))
        return [t for t in tables if self.manifest.row_counts.get(t) != self.row_counts.get(t)]


def restore_backup(
    archive: Path, *, overwrite: bool = False, skip_files: bool = False, say: Say = print
) -> RestoreReport:
    if not archive.is_file():
        raise ArchiveRefused(f"{archive} is not a file.")
    database = current_database()
    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".portal-restore-", dir=data_dir))
    try:
        manifest = unpack_and_verify(archive, staging)
        say(f"Checked {len(manifest.files)} files against the manifest of {manifest.created_at}.")
        restore_files = manifest.files_included and not skip_files
        check_compatible(manifest, database.vendor, restore_files)
        if not overwrite and (holds_data() or (restore_files and media_has_files())):
            raise WouldOverwrite(
                "The portal already holds data (accounts, patients, audit events or uploaded files). "
                "Restoring replaces all of it; run again with --yes to do that."
            )
        database.load(staging / manifest.database_file, manifest.row_counts, replace=overwrite)
        row_counts = current_row_counts()
        if restore_files:
            replace_media(staging / "media")
        migrated = migrate_if_behind()
        count, problems = verify_chain()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RestoreReport(
        manifest=manifest,
        row_counts=row_counts,
        media_files=len(manifest.media_files) if restore_files else 0,
        migrated=migrated,
        audit_events=count,
        audit_problems=problems,
    )


def unpack_and_verify(archive: Path, staging: Path) -> Manifest:
    """Unpack every file into `staging`, refusing the archive unless each matches the manifest."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            names = [member.name for member in members]
            if len(set(names)) != len(names):
                raise ArchiveRefused("The archive holds the same file twice; it is not a portal backup.")
            by_name = {member.name: member for member in members}
            manifest_member = by_name.pop(MANIFEST_NAME, None)
            if manifest_member is None or not manifest_member.isfile():
                raise ArchiveRefused(
                    f"The archive has no {MANIFEST_NAME}: it is truncated (an interrupted copy?) "
                    "or not a portal backup."
                )
            if manifest_member.size > MAX_MANIFEST_BYTES:
                raise ArchiveRefused(f"The archive's {MANIFEST_NAME} is implausibly large.")
            manifest = Manifest.from_json(_read(tar, manifest_member))
            _check_members(manifest, by_name)
            for member in members:
                if member.name != MANIFEST_NAME:
                    _unpack(tar, member, manifest, staging)
    except DAMAGED as error:
        raise ArchiveRefused(
            f"The archive is damaged or truncated ({error}); nothing was changed."
        ) from error
    return manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return _open(tar, member).read()


def _open(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    handle = tar.extractfile(member)
    if handle is None:
        raise ArchiveRefused(f"{member.name} in the archive is not a regular file.")
    return handle


def _check_members(manifest: Manifest, by_name: dict[str, tarfile.TarInfo]) -> None:
    missing = sorted(set(manifest.files) - set(by_name))
    unexpected = sorted(set(by_name) - set(manifest.files))
    if missing:
        raise ArchiveRefused(
            f"The archive lacks {len(missing)} file(s) its manifest lists, e.g. {missing[0]}."
        )
    if unexpected:
        raise ArchiveRefused(
            f"The archive holds {len(unexpected)} file(s) its manifest does not list, e.g. {unexpected[0]}."
        )
    if manifest.database_file not in manifest.files:
        raise ArchiveRefused("The archive's manifest names no database dump.")
    for name, member in by_name.items():
        if not member.isfile():
            raise ArchiveRefused(f"{name} in the archive is not a regular file.")


def _unpack(tar: tarfile.TarFile, member: tarfile.TarInfo, manifest: Manifest, staging: Path) -> None:
    expected = manifest.files[member.name]
    target = staging.joinpath(*member.name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        found = copy_and_hash(_open(tar, member), out)
    if found != expected:
        raise ArchiveRefused(
            f"{member.name} does not match the manifest (SHA-256 {found.sha256[:12]}…, {found.size} bytes; "
            f"expected {expected.sha256[:12]}…, {expected.size} bytes): the archive was altered or "
            "damaged. Nothing was changed."
        )
    os.utime(target, (member.mtime, member.mtime))


def check_compatible(manifest: Manifest, vendor: str, restore_files: bool) -> None:
    if manifest.vendor != vendor:
        raise Incompatible(
            f"This is a backup of a {manifest.vendor} database, and the portal is configured for "
            f"{vendor}. Restore it into a portal on {manifest.vendor} (DATABASE_URL decides); "
            "moving between databases is not supported."
        )
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = sorted(f"{app}.{name}" for app, name in manifest.migrations.items() if (app, name) not in known)
    if unknown:
        raise Incompatible(
            f"This backup was made by a newer or different version of the portal ({manifest.portal_version}): "
            f"this version does not have the migration(s) {', '.join(unknown)}. Install that version first."
        )
    if restore_files and (problem := storage_problem()):
        raise Incompatible(f"{problem} To restore only the database, use --skip-files.")


def media_has_files() -> bool:
    root = Path(settings.MEDIA_ROOT)
    return root.is_dir() and any(path.is_file() for path in root.rglob("*"))


def replace_media(staged: Path) -> None:
    """Make MEDIA_ROOT hold exactly the archived files (the caller has consent to replace)."""
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    # Empty it rather than rename it: MEDIA_ROOT may be a mount point that cannot move.
    for entry in list(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if staged.is_dir():
        for entry in sorted(staged.iterdir()):
            shutil.move(entry, root / entry.name)


def migrate_if_behind() -> list[str]:
    """Apply the migrations a backup from an older version lacks; their names, or []."""
    connections.close_all()
    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    call_command("migrate", interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
