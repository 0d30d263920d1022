"""`create_backup`: the database and every uploaded file in one archive, with a manifest.

The archive is written under a hidden temporary name beside its final one and renamed
only once complete and synced, so a crash never leaves a half archive under a good name.
It holds health data: it is created readable by its owner only.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone

from portal.ops.database import current_database
from portal.ops.errors import Incompatible, OpsError
from portal.ops.manifest import (
    DATABASE_DIR,
    MANIFEST_NAME,
    MEDIA_DIR,
    FileEntry,
    HashingReader,
    Manifest,
    portal_version,
)

SUFFIXES = {".tar": "w", ".tar.gz": "w:gz", ".tgz": "w:gz"}
# Level 6 is gzip's own default: most of the gain of 9 for much less time.
GZIP_LEVEL = 6
FILE_MODE = 0o600

Say = Callable[[str], None]


@dataclass(frozen=True)
class BackupReport:
    """Where the archive went and what it holds."""

    path: Path
    size: int
    manifest: Manifest

    @property
    def database_size(self) -> int:
        return self.manifest.files[self.manifest.database_file].size

    @property
    def media_size(self) -> int:
        return sum(entry.size for entry in self.manifest.media_files.values())


def storage_problem() -> str:
    """Why uploaded files cannot be archived from here, or "" when they can."""
    if isinstance(default_storage, FileSystemStorage):
        return ""
    backend = default_storage.__class__.__name__  # the configured class, not the lazy wrapper
    return (
        f"Uploaded files are kept in {backend}, not on this machine's disk, and `portal backup` "
        "does not copy them. Back that bucket up with the provider's own tools (versioning or "
        "replication), then run `portal backup --skip-files` for the database alone."
    )


def output_path(output: Path | None) -> Path:
    """The archive to write: the file named (.tar, .tar.gz, .tgz), or a new timestamped one in a directory."""
    if output is not None and any(output.name.endswith(suffix) for suffix in SUFFIXES):
        return output
    directory = output if output is not None else Path(settings.DATA_DIR) / "backups"
    return directory / f"portal-backup-{timezone.now():%Y%m%dT%H%M%SZ}.tar.gz"


def write_mode(path: Path) -> str:
    return next(mode for suffix, mode in SUFFIXES.items() if path.name.endswith(suffix))


def create_backup(output: Path | None, *, skip_files: bool = False, say: Say = print) -> BackupReport:
    if not skip_files and (problem := storage_problem()):
        raise Incompatible(problem)
    path = output_path(output)
    if path.exists():
        raise OpsError(f"{path} already exists; a backup never overwrites another.")
    if path.resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve()):
        # The archive would end up archiving itself, half written.
        raise OpsError(f"Write backups outside the uploaded files ({settings.MEDIA_ROOT}).")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = current_database()
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with tempfile.TemporaryDirectory(prefix=".portal-backup-", dir=path.parent) as work:
            dump = Path(work) / database.dump_name
            # The database first, then the files: every file the snapshot refers to already
            # exists when the files are read (uploads are written before their rows commit).
            snapshot = database.dump(dump)
            manifest = Manifest(
                created_at=timezone.now().isoformat(),
                portal_version=portal_version(),
                vendor=database.vendor,
                server_version=snapshot.server_version,
                database_file=f"{DATABASE_DIR}/{database.dump_name}",
                row_counts=snapshot.row_counts,
                migrations=snapshot.migrations,
                files_included=not skip_files,
            )
            _write_archive(partial, write_mode(path), manifest, dump, skip_files, say)
        os.rename(partial, path)
        _sync_directory(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(path=path, size=path.stat().st_size, manifest=manifest)


def _write_archive(
    partial: Path, mode: str, manifest: Manifest, dump: Path, skip_files: bool, say: Say
) -> None:
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as raw:
        options = {"compresslevel": GZIP_LEVEL} if mode == "w:gz" else {}
        with tarfile.open(fileobj=raw, mode=mode, format=tarfile.PAX_FORMAT, **options) as tar:  # type: ignore[call-overload]
            manifest.files[manifest.database_file] = _add_file(tar, manifest.database_file, dump)
            if not skip_files:
                for name, source in media_files(say):
                    entry = _add_file_if_present(tar, name, source, say)
                    if entry is not None:
                        manifest.files[name] = entry
            _add_bytes(tar, MANIFEST_NAME, manifest.to_json())
        raw.flush()
        os.fsync(raw.fileno())


def media_files(say: Say) -> Iterator[tuple[str, Path]]:
    """Every regular file under MEDIA_ROOT, as (archive name, path), in a stable order."""
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                say(f"Skipped {path}: not a regular file.")
                continue
            yield f"{MEDIA_DIR}/{path.relative_to(root).as_posix()}", path


def _add_file_if_present(tar: tarfile.TarFile, name: str, source: Path, say: Say) -> FileEntry | None:
    try:
        return _add_file(tar, name, source)
    except FileNotFoundError:
        # Deleted between listing and reading: it is not in the database snapshot either,
        # or it is an upload that was replaced; either way there is nothing to keep.
        say(f"Skipped {source}: deleted while the backup ran.")
        return None


def _add_file(tar: tarfile.TarFile, name: str, source: Path) -> FileEntry:
    with source.open("rb") as handle:
        status = os.fstat(handle.fileno())
        info = _info(name, status.st_size, int(status.st_mtime))
        reader = HashingReader(handle)
        # tarfile reads exactly `size` bytes; the digest covers exactly what was archived.
        tar.addfile(info, reader)
        return reader.entry()


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    tar.addfile(_info(name, len(content), int(timezone.now().timestamp())), io.BytesIO(content))


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = FILE_MODE
    return info


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
