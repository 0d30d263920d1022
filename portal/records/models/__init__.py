"""The medical record.

Clinical rows (results, imaging, notes, medications, allergies, immunizations, problems,
procedures, visits, documents) share `RecordItem`: the patient, a `sensitivity` slug that
the adolescent-confidentiality rule filters on, and the `source_id` an import keys on so
the same file imported twice changes nothing. Release, sharing and correction requests
follow. Patient-side reads go through `records/access.py`, never these managers directly.
"""

from __future__ import annotations

from portal.records.models.base import RecordItem
from portal.records.models.clinical import (
    Allergy,
    ClinicalNote,
    Document,
    Encounter,
    Immunization,
    Medication,
    Problem,
    Procedure,
)
from portal.records.models.release import ReleaseHoldRule, ReleasePreference, ResultSeen
from portal.records.models.requests import AmendmentRequest, ImportBatch, ShareLink, ShareLinkOpen
from portal.records.models.results import Correction, ImagingImage, LabTestGuide, Observation, ResultReport

__all__ = [
    "Allergy",
    "AmendmentRequest",
    "ClinicalNote",
    "Correction",
    "Document",
    "Encounter",
    "ImagingImage",
    "Immunization",
    "ImportBatch",
    "LabTestGuide",
    "Medication",
    "Observation",
    "Problem",
    "Procedure",
    "RecordItem",
    "ReleaseHoldRule",
    "ReleasePreference",
    "ResultReport",
    "ResultSeen",
    "ShareLink",
    "ShareLinkOpen",
]
