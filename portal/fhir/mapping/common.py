"""Helpers shared by the resource mappers: reading validated FHIR models, writing JSON-ready dicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from portal.fhir import codes
from portal.fhir.report import Problem
from portal.fhir.staging import Where

# The record's decimals hold 16 digits, 4 after the point.
MAX_NUMBER = Decimal("999999999999.9999")
MAX_COUNT = 32767
# Dates outside these years are typing errors, and some would not survive a time zone shift.
YEARS = range(1850, 2201)


@dataclass
class Context:
    """What a mapper needs besides its resource: the file's other entries, the patients, and where it is."""

    # reference text ("urn:uuid:..", "Observation/12", full URL) -> (source id, resource)
    entries: dict[str, tuple[str, Any]]
    # reference text of a Patient entry, or a clinic number given as identifier -> clinic number
    patients: dict[str, str]
    zones: dict[str, ZoneInfo]
    # campus name or short name, lower case -> campus id
    campuses: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    entry: int | None = None
    resource_type: str = ""
    clinic_number: str = ""

    @property
    def where(self) -> Where:
        return Where(entry=self.entry, resource=self.resource_type)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(message, entry=self.entry, resource=self.resource_type, path=path))

    def patient(self, reference: Any, path: str) -> str | None:
        """The clinic number the subject reference names, or None after noting the problem."""
        if reference is None:
            self.problem(path, "is required: the patient this belongs to")
            return None
        number = self.patients.get(reference.reference or "")
        identifier = getattr(reference, "identifier", None)
        if number is None and identifier is not None and identifier.value:
            number = self.patients.get(f"identifier|{identifier.value}")
            if number is None:
                self.problem(f"{path}.identifier", f"no patient has the clinic number '{identifier.value}'")
                return None
        if number is None:
            self.problem(
                path, "must refer to a Patient in this file, or give the clinic number as identifier"
            )
            return None
        if not number:
            return None  # a Patient entry that matched nobody: reported once, on that entry
        self.clinic_number = number
        return number

    def lookup(self, reference: Any) -> tuple[str, Any] | None:
        """The (source id, resource) of another entry of this file, if the reference names one."""
        if reference is None or not reference.reference:
            return None
        return self.entries.get(reference.reference)

    def source_of(self, reference: Any) -> str:
        """The source id a reference points at: an entry's, or the reference itself for earlier imports."""
        found = self.lookup(reference)
        if found is not None:
            return found[0]
        return str(reference.reference or "") if reference is not None else ""

    def campus(self, name: str) -> int | None:
        """The campus a location's name names; other places are kept only as text, if at all."""
        return self.campuses.get(name.strip().lower()) if name else None

    def zone(self) -> ZoneInfo:
        return self.zones.get(self.clinic_number, ZoneInfo("UTC"))

    def moment(self, value: Any, path: str, *, required: bool = True) -> dt.datetime | None:
        """A dateTime as an aware datetime; a bare date is midnight in the patient's campus time zone."""
        day = partial_date(value) if isinstance(value, str) else value
        if isinstance(day, dt.date) and not plausible(day):
            self.problem(path, f"{day.year} is not a plausible year")
            return None
        if isinstance(day, dt.datetime):
            return day if day.tzinfo is not None else day.replace(tzinfo=self.zone())
        if isinstance(day, dt.date):
            return dt.datetime.combine(day, dt.time.min, tzinfo=self.zone())
        if required:
            self.problem(path, "is required (a date and time)")
        return None

    def day(self, value: Any, path: str, *, required: bool = True) -> dt.date | None:
        """A date or dateTime as the calendar day the sender wrote."""
        day = partial_date(value) if isinstance(value, str) else value
        if isinstance(day, dt.date) and not plausible(day):
            self.problem(path, f"{day.year} is not a plausible year")
            return None
        if isinstance(day, dt.datetime):
            return day.date()
        if isinstance(day, dt.date):
            return day
        if required:
            self.problem(path, "is required (a date)")
        return None

    def number(self, value: Any, path: str) -> Decimal | None:
        if value is None:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.problem(path, "is not a number")
            return None
        if not number.is_finite() or abs(number) > MAX_NUMBER:
            self.problem(path, "is too large to store")
            return None
        return number.quantize(Decimal("0.0001"))

    def count(self, value: Any, path: str) -> int | None:
        """A small whole number (a dose number, refills left) that fits the record."""
        if value is None:
            return None
        if not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            self.problem(path, f"must be a whole number from 0 to {MAX_COUNT}")
            return None
        return value

    def status(self, value: Any, table: dict[str, str], path: str) -> str | None:
        if value in table:
            return table[value]
        allowed = ", ".join(sorted(table))
        self.problem(path, f"'{value}' is not a known status (expected one of: {allowed})")
        return None

    def text(self, value: Any, path: str, limit: int, *, required: bool = False) -> str:
        text = str(value or "").strip()
        if required and not text:
            self.problem(path, "is required")
        if len(text) > limit:
            self.problem(path, f"is longer than {limit} characters")
        return text


def plausible(day: dt.date) -> bool:
    return day.year in YEARS


def partial_date(value: str) -> dt.date | None:
    """FHIR's partial dates ("2024", "2024-03") as their first day."""
    parts = value.split("-")
    try:
        if len(parts) == 1:
            return dt.date(int(parts[0]), 1, 1)
        if len(parts) == 2:
            return dt.date(int(parts[0]), int(parts[1]), 1)
    except ValueError:
        return None
    return None


# Reading ------------------------------------------------------------------------------------


def codings(concept: Any) -> list[Any]:
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def code_of(concept: Any, systems: Iterable[str] = ()) -> tuple[str, str, str]:
    """(system, code, display) of the coding in the first preferred system, else the first coding."""
    found = codings(concept)
    for system in systems:
        for coding in found:
            if coding.system == system and coding.code:
                return system, str(coding.code), str(coding.display or "")
    for coding in found:
        if coding.code:
            return str(coding.system or ""), str(coding.code), str(coding.display or "")
    return "", "", ""


def name_of(concept: Any) -> str:
    """What a person calls the concept: its text, else a coding's display, else a code."""
    if concept is None:
        return ""
    if concept.text:
        return str(concept.text).strip()
    for coding in codings(concept):
        if coding.display:
            return str(coding.display).strip()
    return code_of(concept)[1]


def has_code(concepts: Iterable[Any], system: str, code: str) -> bool:
    return any(c.system == system and c.code == code for concept in concepts for c in codings(concept))


def first_code(concepts: Iterable[Any], system: str) -> str:
    for concept in concepts:
        for coding in codings(concept):
            if coding.system == system and coding.code:
                return str(coding.code)
    return ""


def display_of(reference: Any) -> str:
    return str(getattr(reference, "display", None) or "").strip()


def notes_of(annotations: Any) -> str:
    return "\n\n".join(str(note.text).strip() for note in annotations or [] if note.text)


def sensitivity_of(resource: Any) -> str:
    meta = getattr(resource, "meta", None)
    labels = (
        [(str(label.system or ""), str(label.code or "")) for label in (meta.security or [])] if meta else []
    )
    return codes.sensitivity_from_labels(labels)


def extension_value(element: Any, name: str) -> Any:
    """The value of the portal's extension `name` on an element, or None."""
    for extension in getattr(element, "extension", None) or []:
        if extension.url == codes.PORTAL_EXTENSION + name:
            for key in ("valueString", "valueDate", "valueBoolean", "valueInteger", "valueMarkdown"):
                value = getattr(extension, key, None)
                if value is not None:
                    return value
    return None


# Writing ------------------------------------------------------------------------------------


def concept(system: str, code: str, display: str = "", text: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code, "display": display} if code else {}
    return clean({"coding": [clean(coding)] if coding else [], "text": text or display})


def extension(name: str, key: str, value: Any) -> dict[str, Any]:
    return {"url": codes.PORTAL_EXTENSION + name, key: value}


def extensions(*pairs: tuple[str, str, Any]) -> list[dict[str, Any]]:
    """Portal extensions for the values that are set (None, "" and False-less gaps are left out)."""
    return [extension(name, key, value) for name, key, value in pairs if value not in (None, "")]


def meta(profile: str, sensitivity: str) -> dict[str, Any]:
    return clean({"profile": [codes.US_CORE + profile], "security": codes.security_labels(sensitivity)})


def moment_text(value: dt.datetime | None) -> str | None:
    """An instant with the offset of the current time zone (the export sets the patient's)."""
    return timezone.localtime(value).isoformat() if value is not None else None


def day_text(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def number_json(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def note_list(text: str) -> list[dict[str, str]]:
    return [{"text": text}] if text else []


def clean(value: Any) -> Any:
    """Drop empty values (None, "", [], {}) at every level: FHIR JSON has no empty elements."""
    if isinstance(value, dict):
        cleaned = {key: clean(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        items = [clean(item) for item in value]
        return [item for item in items if item not in (None, "", [], {})]
    return value


Mapper = Callable[[Any, Context], Any]
