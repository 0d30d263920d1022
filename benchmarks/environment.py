"""Pointing Django at the benchmark database, before anything reads the settings."""

from __future__ import annotations

import os
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA_DIR = ROOT / "var" / "bench"
SQLITE_FILES = ("portal.sqlite3", "portal.sqlite3-wal", "portal.sqlite3-shm")
WARM_CHUNK_BYTES = 8 * 1024 * 1024


def uses_sqlite() -> bool:
    return not os.environ.get("DATABASE_URL")


def configure(data_dir: Path = BENCH_DATA_DIR) -> None:
    """Set up Django for a benchmark process.

    Development mode with DEBUG off: production's HTTPS redirects would get in the way
    of the test client, and DEBUG's query log would be measured along with the page.
    """
    os.environ["PORTAL_ENV"] = "development"
    os.environ["DEBUG"] = "false"
    if uses_sqlite():
        os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()


def warm_sqlite_database(data_dir: Path = BENCH_DATA_DIR) -> int:
    """Read the SQLite files through once, so the operating system's cache holds them.

    A server that has been up a while reads its database from memory. Without this the
    first pages measured pay for reading a cold file of nearly 2 GB from disk and the
    later ones do not, which made the page order, not the data's size, decide the first
    SQLite run's verdicts (docs/benchmarks.md). Returns the bytes read.
    """
    read = 0
    for name in SQLITE_FILES:
        path = data_dir / name
        if path.exists():
            with path.open("rb") as database_file:
                while chunk := database_file.read(WARM_CHUNK_BYTES):
                    read += len(chunk)
    return read


def remove_sqlite_database(data_dir: Path = BENCH_DATA_DIR) -> None:
    """Start the benchmark's own SQLite database again from nothing."""
    for name in SQLITE_FILES:
        (data_dir / name).unlink(missing_ok=True)
