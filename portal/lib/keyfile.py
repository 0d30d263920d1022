"""Writing a generated private key once, safely, where several processes may start at once.

Read by settings before Django is set up, so this module imports nothing from Django.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_once(path: Path, secret: bytes) -> None:
    """Write `secret` to `path` unless it exists, readable by the owner only from the start.

    Written aside and linked into place: two processes starting at once (test workers) must
    not read a half-written key; the first to link wins and the other's copy is dropped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secret)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
