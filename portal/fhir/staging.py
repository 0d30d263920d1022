"""What a parsed file wants written, before anything touches the database.

Every reader (FHIR bundle, HL7 v2, DICOM) turns its file into `Row`s keyed by
(patient, model, source_id); `store.py` writes them all or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.records.models import RecordItem


@dataclass
class Where:
    """Where a row came from in its file, so a problem found while storing still has a location."""

    entry: int | None = None
    resource: str = ""
    line: int | None = None


@dataclass
class Row:
    """One record row to create, update in place, or remove, found by its source id."""

    model: type[RecordItem]
    clinic_number: str
    source_id: str
    fields: dict[str, Any]
    where: Where = field(default_factory=Where)
    # Foreign key name -> the source id of the row it points to (same patient).
    links: dict[str, str] = field(default_factory=dict)
    # The source marks it entered in error: an existing row goes, a new one is not made.
    remove: bool = False
    # A Document's file content.
    content: bytes | None = None


@dataclass
class Relink:
    """A report in this file claims an observation imported earlier: point it at the report."""

    clinic_number: str
    report_source_id: str
    observation_source_id: str
    position: int
    where: Where


@dataclass
class Image:
    """A DICOM instance converted to PNG, for the imaging report of its study."""

    clinic_number: str
    study_uid: str
    sop_instance_uid: str
    png: bytes
    width: int
    height: int
    description: str
    # Used only when no report of the study exists yet.
    report_fields: dict[str, Any]


@dataclass
class Staged:
    """Everything a file asks for, in the order it must be written."""

    rows: list[Row] = field(default_factory=list)
    relinks: list[Relink] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
