from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from portal.patients.models import CareRelationship, Patient
from portal.test import World, make_patient

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def years_ago(years: int) -> dt.date:
    today = timezone.localdate()
    return dt.date(today.year - years, 1, 15) if today.month > 1 else dt.date(today.year - years - 1, 1, 15)


@pytest.fixture
def child(world: World) -> Patient:
    """Mia, eight, cared for by the world's care team; nobody acts for her yet."""
    mia = make_patient("10000009", "Mia", "Able", world.campus)
    mia.birth_date = years_ago(8)
    mia.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=mia, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    return mia


def pdf(name: str = "birth-certificate.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def request_data(child: Patient, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "clinic_number": child.clinic_number,
        "given_name": child.given_name,
        "family_name": child.family_name,
        "birth_date": child.birth_date.isoformat(),
        "relationship": "parent",
        "document": pdf(),
        "confirm": "on",
    }
    data.update(overrides)
    return data
