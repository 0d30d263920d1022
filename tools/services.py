"""Tells whether the real services the tests use are present: `python -m tools.services postgres URL`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def postgres_available(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def main(argv: list[str]) -> int:
    if argv[:1] == ["postgres"] and len(argv) == 2:
        return 0 if postgres_available(argv[1]) else 1
    if argv == ["chromium"]:
        return 0 if chromium_path() else 1
    print("usage: python -m tools.services postgres URL | chromium", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
