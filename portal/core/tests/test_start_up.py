"""Every process starts without the libraries only some requests need.

An app server process, a worker and each `portal` command load Django, the settings and
every URL's view module. fpdf2 with fontTools (PDFs), pydicom with numpy (DICOM imports),
fhir.resources with pydantic (FHIR bundle imports) and icalendar (calendar files) took
about three of the five seconds that cost, so they are imported by the code that uses them,
on first use. This test keeps a module-level import of one of them from creeping back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LOADED_ON_FIRST_USE = ("fpdf", "fontTools", "pydicom", "numpy", "fhir", "fhir_core", "pydantic", "icalendar")

START_LIKE_A_SERVER_AND_A_WORKER = f"""
import json, sys
from portal.wsgi import application
from django.urls import get_resolver
get_resolver().url_patterns
from portal.core.management.commands import worker
print(json.dumps(sorted(name for name in {LOADED_ON_FIRST_USE!r} if name in sys.modules)))
"""

pytestmark = pytest.mark.any_database


def test_start_up_leaves_the_heavy_libraries_for_first_use() -> None:
    environment = {**os.environ, "PORTAL_ENV": "test", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    result = subprocess.run(  # noqa: S603  (our own interpreter, our own script)
        [sys.executable, "-c", START_LIKE_A_SERVER_AND_A_WORKER],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"imported at start-up, though only some requests need them: {loaded}"
