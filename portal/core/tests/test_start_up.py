"""Every process starts without the libraries only some requests need.

An app server process, a worker and each `portal` command load Django, the settings and
every URL's view module. fpdf2 with fontTools (PDFs), pydicom with numpy (DICOM imports),
fhir.resources with pydantic (FHIR bundle imports) and icalendar (calendar files) took
about three of the five seconds that cost, so they are imported by the code that uses them,
on first use. This test keeps a module-level import of one of them from creeping back.
"""

from __future__ import annotations

import pytest

from portal.test import answer_of_new_process

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
    loaded = answer_of_new_process(START_LIKE_A_SERVER_AND_A_WORKER)
    assert loaded == [], f"imported at start-up, though only some requests need them: {loaded}"
