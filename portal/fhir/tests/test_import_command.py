"""`portal import FILE...`: a readable report, and a non-zero exit on rejection."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.fhir.tests.conftest import DATA, row_counts
from portal.test import World


def test_it_prints_counts_per_patient(world: World) -> None:
    out = StringIO()
    call_command("import", str(DATA / "alice-bundle.json"), stdout=out)
    text = out.getvalue()
    assert "Imported alice-bundle.json (fhir)." in text
    assert "Patient 10000001:" in text and "Observation: 8 created, 0 updated, 0 unchanged" in text
    again = StringIO()
    call_command("import", str(DATA / "alice-bundle.json"), stdout=again)
    assert "already imported" in again.getvalue()


def test_a_rejected_file_lists_its_problems_and_fails(world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.hl7"
    bad.write_bytes(
        b"MSH|^~\\&|LIS|ROCHLAB|PORTAL|CLINIC|20250304141500||ORU^R01|1|P|2.5.1\rOBR|1||F1|X^Y|||20250304"
    )
    out = StringIO()
    before = row_counts()
    with pytest.raises(CommandError, match="1 of 1 file"):
        call_command("import", str(bad), stdout=out)
    assert "line 1 (MSH) PID: the message has no PID segment" in out.getvalue()
    assert row_counts() == before


def test_a_missing_file_is_an_error(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import", str(tmp_path / "nothing.json"), stdout=StringIO())
