"""Reading a DICOM instance: who and which study, and its pixels as an 8-bit grayscale PNG.

The image is windowed as the file says (WindowCenter/WindowWidth after the rescale),
else stretched from its darkest to its brightest value; MONOCHROME1 is inverted so bone
stays white; the longest side is scaled down to at most 1024 pixels.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pydicom
from django.utils import timezone
from PIL import Image as PillowImage

from portal.fhir.mapping.common import YEARS
from portal.fhir.report import Problem
from portal.fhir.staging import Image, Staged
from portal.patients.models import Patient
from portal.records.models import ResultReport

MAX_SIDE = 1024
# The most pixels (rows x columns x frames) decoded from one file: a 20 MB upload can
# declare a compressed image of any size, and decoding allocates all of it at once.
MAX_PIXELS = 64 * 1024 * 1024


def read_dicom(data: bytes) -> tuple[Staged, list[Problem]]:
    try:
        with warnings.catch_warnings():
            # Files that bend the standard are read anyway; what matters is caught below.
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(data))
            values = {name: str(dataset.get(name, "") or "").strip() for name in _TAGS}
    except Exception as error:  # pydicom parses lazily and raises many kinds on a damaged file
        return Staged(), [Problem(f"could not be read as DICOM: {str(error)[:200]}", resource="DICOM")]
    return _instance(dataset, values)


def _instance(dataset: Any, values: dict[str, str]) -> tuple[Staged, list[Problem]]:
    problems: list[Problem] = []
    for name in ("PatientID", "StudyInstanceUID", "SOPInstanceUID"):
        if not values[name]:
            problems.append(Problem("is required", resource="DICOM", path=name))
    patient = (
        Patient.objects.filter(clinic_number=values["PatientID"]).select_related("primary_campus").first()
    )
    if values["PatientID"] and patient is None:
        problems.append(
            Problem(
                f"matches no patient of the clinic ('{values['PatientID']}'); patients are never created",
                resource="DICOM",
                path="PatientID",
            )
        )
    png = _png(dataset, problems)
    if problems or patient is None or png is None:
        return Staged(), problems
    content, width, height = png
    image = Image(
        clinic_number=patient.clinic_number,
        study_uid=values["StudyInstanceUID"][:80],
        sop_instance_uid=values["SOPInstanceUID"][:80],
        png=content,
        width=width,
        height=height,
        description=values["SeriesDescription"] or values["StudyDescription"],
        report_fields=_report_fields(values, ZoneInfo(patient.primary_campus.time_zone)),
    )
    return Staged(images=[image]), []


_TAGS = (
    "PatientID",
    "StudyInstanceUID",
    "SOPInstanceUID",
    "Modality",
    "BodyPartExamined",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "SeriesDescription",
)


def _report_fields(values: dict[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """A placeholder imaging report, for images that arrive before their report."""
    when = _study_time(values["StudyDate"], values["StudyTime"], zone) or timezone.now()
    modality = values["Modality"][:20]
    return {
        "category": ResultReport.Category.IMAGING,
        "name": (values["StudyDescription"] or f"{modality or 'Imaging'} study")[:200],
        "status": ResultReport.Status.PRELIMINARY,
        "effective_at": when,
        "issued_at": timezone.now(),
        "modality": modality,
        "body_site": values["BodyPartExamined"].replace("_", " ").title()[:100],
        "study_uid": values["StudyInstanceUID"][:80],
    }


def _study_time(day: str, time: str, zone: ZoneInfo) -> dt.datetime | None:
    try:
        date = dt.datetime.strptime(day[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date, zoned below
    except ValueError:
        return None
    if date.year not in YEARS:
        return None
    digits = time.split(".")[0].ljust(6, "0")[:6]
    try:
        clock = dt.time(int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        clock = dt.time.min
    return dt.datetime.combine(date, clock, tzinfo=zone)


def _png(dataset: Any, problems: list[Problem]) -> tuple[bytes, int, int] | None:
    if "PixelData" not in dataset:
        problems.append(Problem("the file has no image (PixelData)", resource="DICOM", path="PixelData"))
        return None
    if _declared_pixels(dataset) > MAX_PIXELS:
        problems.append(Problem("the image is larger than the portal decodes", resource="DICOM", path="Rows"))
        return None
    try:
        gray = to_gray(dataset, np.asarray(dataset.pixel_array))
    except Exception as error:  # pydicom raises many kinds for damaged or unsupported encodings
        problems.append(
            Problem(f"the image could not be decoded: {str(error)[:200]}", resource="DICOM", path="PixelData")
        )
        return None
    picture = PillowImage.fromarray(gray)
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), picture.width, picture.height


def _declared_pixels(dataset: Any) -> int:
    try:
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
        return int(dataset.get("Rows", 0) or 0) * int(dataset.get("Columns", 0) or 0) * max(frames, 1)
    except (TypeError, ValueError):
        return MAX_PIXELS + 1


def to_gray(dataset: Any, pixels: np.ndarray) -> np.ndarray:
    """The first frame as 8-bit grayscale, windowed and with MONOCHROME1 inverted."""
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[0]
    if samples > 1:
        # Colour (ultrasound, photos): keep the picture, in gray like the rest.
        rgb = pixels.astype(np.float64)
        pixels = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    values = pixels.astype(np.float64) * float(dataset.get("RescaleSlope", 1) or 1) + float(
        dataset.get("RescaleIntercept", 0) or 0
    )
    low, high = _window(dataset, values)
    scaled = (
        np.zeros_like(values) if high <= low else np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0
    )
    if str(dataset.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        scaled = 255.0 - scaled
    return np.asarray(np.rint(scaled), dtype=np.uint8)


def _window(dataset: Any, values: np.ndarray) -> tuple[float, float]:
    center, width = _first(dataset.get("WindowCenter")), _first(dataset.get("WindowWidth"))
    if center is not None and width is not None and width > 1:
        return center - width / 2, center + width / 2
    return float(values.min()), float(values.max())


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
