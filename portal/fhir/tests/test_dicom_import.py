"""Importing DICOM images: a synthetic 16-bit instance made here with pydicom, never downloaded."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import numpy as np
from django.utils import timezone
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import access_of, alice_bundle, row_counts
from portal.records.access import visible_reports
from portal.records.models import ImagingImage, ReleaseHoldRule, ResultReport
from portal.test import World

STUDY = "1.2.840.113619.2.55.3.604688119.971.1234567890.123"
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def dicom(
    pixels: np.ndarray | None = None,
    *,
    patient: str = "10000001",
    study: str = STUDY,
    sop: str = "1.2.3.4.5.6.7.1",
    **tags: Any,
) -> bytes:
    if pixels is None:
        pixels = np.tile(np.arange(0, 4000, 100, dtype=np.uint16), (30, 1))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(CR_STORAGE)
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset("synthetic.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    values: dict[str, Any] = {
        "SOPClassUID": CR_STORAGE,
        "SOPInstanceUID": sop,
        "PatientID": patient,
        "StudyInstanceUID": study,
        "SeriesInstanceUID": f"{study}.1",
        "Modality": "CR",
        "BodyPartExamined": "CHEST",
        "StudyDate": "20250120",
        "StudyTime": "130000",
        "StudyDescription": "Chest X-ray",
        "SeriesDescription": "PA view",
        "Rows": pixels.shape[0],
        "Columns": pixels.shape[1],
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "BitsAllocated": 16,
        "BitsStored": 12,
        "HighBit": 11,
        "PixelRepresentation": 0,
    }
    values.update(tags)
    for name, value in values.items():
        if value is not None:
            setattr(dataset, name, value)
    dataset.PixelData = pixels.astype(np.uint16).tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def png_of(image: ImagingImage) -> np.ndarray:
    with image.image.open("rb") as handle:
        picture = Image.open(io.BytesIO(handle.read()))
        assert picture.mode == "L"
        return np.asarray(picture)


def test_images_before_their_report_get_a_preliminary_report(world: World) -> None:
    report = import_file(dicom(), "chest.dcm", "test")
    assert report.accepted and report.format == "dicom"
    assert any("preliminary" in note for note in report.notes)
    study = ResultReport.objects.get()
    assert (study.patient, study.category, study.status) == (world.alice, "imaging", "preliminary")
    assert (study.modality, study.body_site, study.study_uid, study.name) == (
        "CR",
        "Chest",
        STUDY,
        "Chest X-ray",
    )
    assert study.effective_at.isoformat() == "2025-01-20T19:00:00+00:00"  # 13:00 in Chicago
    image = ImagingImage.objects.get()
    assert (image.report, image.sop_instance_uid, image.description) == (study, "1.2.3.4.5.6.7.1", "PA view")
    assert (image.width, image.height) == (40, 30)
    pixels = png_of(image)
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255 and pixels[0, 20] == 131


def test_the_same_instance_again_is_a_no_op(world: World) -> None:
    import_file(dicom(), "chest.dcm", "test")
    before = row_counts()
    assert import_file(dicom(), "chest.dcm", "test").already_imported
    renamed = import_file(dicom(StudyDescription="Chest X-ray, repeat"), "chest-again.dcm", "test")
    assert renamed.accepted and not renamed.changed
    assert renamed.patients["10000001"]["ImagingImage"].unchanged == 1
    assert row_counts() == {**before, "ImportBatch": before["ImportBatch"] + 1}


def test_images_join_the_report_of_their_study(world: World) -> None:
    import_file(alice_bundle(), "alice.json", "test")
    import_file(dicom(sop="1.2.3.4.5.6.7.1"), "one.dcm", "test")
    import_file(dicom(sop="1.2.3.4.5.6.7.2"), "two.dcm", "test")
    xray = ResultReport.objects.get(study_uid=STUDY)
    assert xray.status == "final" and xray.code == "36643-5"
    assert list(xray.images.values_list("position", "sop_instance_uid")) == [
        (0, "1.2.3.4.5.6.7.1"),
        (1, "1.2.3.4.5.6.7.2"),
    ]


def test_a_report_arriving_after_its_images_takes_them_over(world: World) -> None:
    import_file(dicom(), "chest.dcm", "test")
    import_file(alice_bundle(), "alice.json", "test")
    reports = ResultReport.objects.filter(study_uid=STUDY)
    assert reports.count() == 1
    xray = reports.get()
    assert xray.status == "final" and xray.impression and xray.images.count() == 1


def test_images_without_a_report_stay_with_the_care_team(world: World) -> None:
    import_file(dicom(), "chest.dcm", "test")
    assert not visible_reports(access_of(world.alice_user, world.alice)).exists()
    assert visible_reports(access_of(world.clinician, world.alice)).count() == 1


def test_the_clinics_hold_starts_when_the_report_arrives_after_its_images(
    world: World, time_machine: Any
) -> None:
    ReleaseHoldRule.objects.create(category="imaging", hold_hours=48, reason="Radiologist calls first")
    time_machine.move_to(timezone.now() - dt.timedelta(days=3))
    import_file(dicom(), "chest.dcm", "test")
    time_machine.move_to(timezone.now() + dt.timedelta(days=3))
    import_file(alice_bundle(), "alice.json", "test")
    xray = ResultReport.objects.get(study_uid=STUDY)
    assert xray.hold_reason == "Radiologist calls first"
    assert xray.available_at > timezone.now() + dt.timedelta(hours=47)
    assert not visible_reports(access_of(world.alice_user, world.alice)).filter(pk=xray.pk).exists()


def test_window_monochrome1_and_size(world: World) -> None:
    wide = np.tile(np.linspace(0, 4000, 1500).astype(np.uint16), (20, 1))
    data = dicom(wide, PhotometricInterpretation="MONOCHROME1", WindowCenter=1000, WindowWidth=1000)
    assert import_file(data, "wide.dcm", "test").accepted
    image = ImagingImage.objects.get()
    assert image.width == 1024 and image.height <= 1024
    pixels = png_of(image)
    # Inverted: the darkest input is white; past the window's top everything is black.
    assert pixels[5, 0] == 255 and pixels[5, -1] == 0 and pixels[5, 600] == 0


def rejected(data: bytes) -> list[str]:
    before = row_counts()
    report = import_file(data, "bad.dcm", "test")
    assert not report.accepted and row_counts() == before
    return [f"{problem.location}: {problem.message}" for problem in report.problems]


def test_unknown_patient_and_missing_parts_are_rejected(world: World) -> None:
    assert rejected(dicom(patient="99999999")) == [
        "DICOM PatientID: matches no patient of the clinic ('99999999'); patients are never created"
    ]
    assert rejected(dicom(StudyInstanceUID="")) == ["DICOM StudyInstanceUID: is required"]
    broken = dicom()
    assert rejected(broken[:200])[0].startswith("DICOM")


def test_a_dicom_file_is_not_mistaken_for_json(world: World) -> None:
    assert import_file(json.dumps({"resourceType": "Bundle"}).encode(), "x.dcm", "test").format == "fhir"


def test_an_image_declaring_more_pixels_than_we_decode_is_refused(world: World) -> None:
    before = row_counts()
    report = import_file(dicom(Rows=60000, Columns=60000), "bomb.dcm", "test")
    assert not report.accepted
    assert any("larger than the portal decodes" in problem.message for problem in report.problems)
    assert row_counts() == before
