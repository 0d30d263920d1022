"""The manifest inside every backup archive: what it holds, and a SHA-256 for each file.

The manifest is the archive's last member, written after every file it describes, so an
archive cut short anywhere lacks it and is refused. Its checksums catch corruption and
truncation; they do not stop someone who can rewrite the archive and its manifest together
(docs/operations.md says to sign or encrypt archives that leave the machine).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings

from portal.ops.errors import ArchiveRefused

FORMAT = "portal-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_DIR = "database"
MEDIA_DIR = "media"
# A manifest lists one line per file; this leaves room for millions of uploads.
MAX_MANIFEST_BYTES = 512 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    """One file in the archive: its SHA-256 and size in bytes."""

    sha256: str
    size: int


@dataclass
class Manifest:
    """What a backup holds and the state of the portal it was taken from."""

    created_at: str
    portal_version: str
    vendor: str
    server_version: str
    database_file: str
    row_counts: dict[str, int]
    migrations: dict[str, str]
    files_included: bool
    files: dict[str, FileEntry] = field(default_factory=dict)

    @property
    def media_files(self) -> dict[str, FileEntry]:
        return {name: entry for name, entry in self.files.items() if name.startswith(f"{MEDIA_DIR}/")}

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ArchiveRefused(f"The archive's {MANIFEST_NAME} is not valid JSON: {error}") from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ArchiveRefused("This is not a portal backup: its manifest does not say so.")
        if document.get("format_version") != FORMAT_VERSION:
            raise ArchiveRefused(
                f"This backup is in format version {document.get('format_version')!r}; this portal "
                f"reads version {FORMAT_VERSION}. Restore it with the portal version that made it."
            )
        try:
            return cls(
                created_at=_text(document["created_at"]),
                portal_version=_text(document["portal_version"]),
                vendor=_text(document["vendor"]),
                server_version=_text(document["server_version"]),
                database_file=member_name(document["database_file"]),
                row_counts={_text(table): _count(n) for table, n in document["row_counts"].items()},
                migrations={_text(app): _text(name) for app, name in document["migrations"].items()},
                files_included=bool(document["files_included"]),
                files={member_name(name): _entry(entry) for name, entry in document["files"].items()},
            )
        except (KeyError, AttributeError, TypeError, ValueError) as error:
            raise ArchiveRefused(f"The archive's manifest is incomplete or malformed ({error!r}).") from error


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, not {value!r}")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a count, not {value!r}")
    return value


def _entry(value: Any) -> FileEntry:
    sha256 = _text(value["sha256"])
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return FileEntry(sha256=sha256, size=_count(value["size"]))


def member_name(value: Any) -> str:
    """An archive path that stays inside the restore directory: refuse absolute paths and `..`."""
    name = _text(value)
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or path.parts[0] not in (DATABASE_DIR, MEDIA_DIR)
        or len(path.parts) < 2
    ):
        raise ValueError(f"unsafe or unexpected path in archive: {name!r}")
    return name


class HashingReader:
    """Passes a file through to tarfile while hashing exactly the bytes archived."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def entry(self) -> FileEntry:
        return FileEntry(sha256=self.digest.hexdigest(), size=self.size)


def copy_and_hash(source: IO[bytes], target: IO[bytes]) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return FileEntry(sha256=digest.hexdigest(), size=size)


def portal_version() -> str:
    """The package version, with `git describe` when run from a checkout."""
    try:
        version = metadata.version("patient-portal")
    except metadata.PackageNotFoundError:
        version = "unknown"
    base = Path(settings.BASE_DIR)
    if (base / ".git").exists():
        try:
            described = subprocess.run(  # nosec B603, B607  # git on PATH with fixed arguments
                ["git", "describe", "--always", "--tags", "--dirty"],  # noqa: S607  (git on PATH, fixed arguments)
                cwd=base,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            described = ""
        if described:
            version = f"{version} ({described})"
    return version
