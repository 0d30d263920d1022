"""`portal serve`: gunicorn's argv and the metrics directory it starts with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from portal.core.management.commands import serve


def test_serve_writes_no_raw_access_log_and_empties_the_metrics_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    monkeypatch.setattr(serve, "static_files_missing", lambda: False)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: seen.update(argv=argv))
    call_command("serve", "--workers", "2")
    argv = seen["argv"]
    assert "--access-logfile" not in argv
    assert argv[argv.index("--workers") + 1] == "2"
    assert list(metrics.iterdir()) == []
