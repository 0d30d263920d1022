from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.patients.access import PatientAccess, decide
from portal.patients.models import Patient
from portal.records.models import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    ImagingImage,
    Immunization,
    ImportBatch,
    Medication,
    Observation,
    Problem,
    Procedure,
    ResultReport,
)

DATA = Path(__file__).parent / "data"
RECORD_MODELS = (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    ImagingImage,
    Immunization,
    Medication,
    Observation,
    Problem,
    Procedure,
    ResultReport,
    ImportBatch,
)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def alice_bundle() -> bytes:
    return (DATA / "alice-bundle.json").read_bytes()


def row_counts() -> dict[str, int]:
    """How many rows every record model holds: a rejected file must change none."""
    return {model.__name__: model._default_manager.count() for model in RECORD_MODELS}


def access_of(user: Any, patient: Patient) -> PatientAccess:
    access = decide(user, patient)
    assert access is not None
    return access
