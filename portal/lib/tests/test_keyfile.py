"""Generated private keys: owner-only from the first byte, and never replaced."""

from __future__ import annotations

import stat
from pathlib import Path

from portal.lib.keyfile import write_once


def test_a_key_is_written_owner_only_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    write_once(path, b"first")
    write_once(path, b"second")
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]
