"""Reading HL7 v2 ORU^R01 result messages into staged reports and observations.

PID-3 names the patient by clinic number (any repetition); each OBR is a report, keyed
by the sending facility (MSH-4) and the filler order number (OBR-3); each OBX under it
is a value, keyed by the same plus its set id (OBX-1). An NTE after an OBX is that
value's comment, after an OBR (before its first OBX) the report's. Times without an
offset are the patient's campus time. Every problem carries its line number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import hl7

from portal.fhir import codes
from portal.fhir.mapping.common import MAX_NUMBER, YEARS
from portal.fhir.report import Problem
from portal.fhir.staging import Row, Staged, Where
from portal.patients.models import Patient
from portal.records.models import Observation, ResultReport

SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")
TIMESTAMP = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")
RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")
BOUND = re.compile(r"^\s*(<=?|>=?)\s*(-?\d+(?:\.\d+)?)\s*$")
NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")
REPORT_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "I": "preliminary",
    "S": "preliminary",
    "A": "preliminary",
    "R": "preliminary",
    "O": "preliminary",
    "X": "cancelled",
}
VALUE_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "I": "preliminary",
    "S": "preliminary",
    "X": "cancelled",
    "D": "cancelled",
    "W": "cancelled",
}
BATCH_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})
TEXT_TYPES = frozenset({"ST", "TX", "FT"})


@dataclass
class Segment:
    line: int
    name: str
    parsed: Any

    def get(self, field_number: int, component: int = 1, repetition: int = 1) -> str:
        try:
            return str(self.parsed.extract_field(1, field_number, repetition, component, 1)).strip()
        except (IndexError, KeyError, ValueError, TypeError):
            return ""

    def repetitions(self, field_number: int) -> int:
        try:
            return len(self.parsed[field_number])
        except (IndexError, TypeError):
            return 0


@dataclass
class Reader:
    """One file's messages, the patients they name, and every problem found."""

    patients: dict[str, Patient] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    staged: Staged = field(default_factory=Staged)

    def problem(self, segment: Segment, path: str, message: str) -> None:
        self.problems.append(Problem(message, line=segment.line, resource=segment.name, path=path))


def read_hl7(data: bytes) -> tuple[Staged, list[Problem]]:
    reader = Reader()
    messages = _messages(_text(data), reader)
    numbers = {
        segment.get(3, 1, repetition)
        for message in messages
        for segment in message
        if segment.name == "PID"
        for repetition in range(1, segment.repetitions(3) + 1)
    }
    reader.patients = {
        patient.clinic_number: patient
        for patient in Patient.objects.filter(clinic_number__in=sorted(numbers - {""})).select_related(
            "primary_campus"
        )
    }
    for message in messages:
        _message(message, reader)
    return reader.staged, reader.problems


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        # v2 senders often use ISO 8859-1 (MSH-18); each byte is then one character.
        return data.decode("latin-1")


def _messages(text: str, reader: Reader) -> list[list[Segment]]:
    """Split on MSH; parse each message with `hl7`; number segments by their line in the file."""
    groups: list[list[tuple[int, str]]] = []
    for number, line in enumerate(SEGMENT_BREAK.split(text), start=1):
        name = line[:3]
        if not line.strip() or name in BATCH_SEGMENTS:
            continue
        if name == "MSH":
            groups.append([])
        if not groups:
            reader.problems.append(Problem("expected an MSH segment first", line=number, resource=name))
            continue
        groups[-1].append((number, line))
    messages = []
    for group in groups:
        try:
            parsed = hl7.parse("\r".join(line for _number, line in group))
        except Exception as error:
            reader.problems.append(
                Problem(f"could not be read as HL7 v2: {error}", line=group[0][0], resource="MSH")
            )
            continue
        messages.append(
            [Segment(number, str(seg[0]), seg) for (number, _line), seg in zip(group, parsed, strict=False)]
        )
    return messages


def _message(segments: list[Segment], reader: Reader) -> None:
    header = segments[0]
    if (header.get(9, 1), header.get(9, 2)) != ("ORU", "R01"):
        reader.problem(
            header,
            "MSH-9",
            f"only ORU^R01 result messages are imported, not {header.get(9, 1)}^{header.get(9, 2)}",
        )
        return
    pid = next((segment for segment in segments if segment.name == "PID"), None)
    if pid is None:
        reader.problem(header, "PID", "the message has no PID segment, so no patient")
    # Without a patient the message is rejected, but its results are still checked so
    # every problem is reported at once.
    number = _patient(pid, reader) if pid is not None else None
    zone = ZoneInfo(reader.patients[number].primary_campus.time_zone if number else "UTC")
    number = number or ""
    facility = header.get(4) or header.get(3) or "unknown"
    sent = _time(header.get(7), zone)
    report: Row | None = None
    observation: Row | None = None
    position = 0
    for segment in segments[1:]:
        if segment.name == "OBR":
            report, observation, position = _report(segment, number, facility, sent, zone, reader), None, 0
        elif segment.name == "OBX":
            observation = _observation(segment, report, number, zone, reader)
            if observation is not None:
                observation.fields["position"] = position
                position += 1
        elif segment.name == "NTE":
            _comment(segment, report, observation)


def _patient(pid: Segment, reader: Reader) -> str | None:
    candidates = [pid.get(3, 1, repetition) for repetition in range(1, pid.repetitions(3) + 1)]
    number = next((value for value in candidates if value in reader.patients), None)
    if number is None:
        tried = ", ".join(value for value in candidates if value) or "none"
        reader.problem(
            pid,
            "PID-3",
            f"matches no patient of the clinic (identifiers: {tried}); patients are never created",
        )
    return number


def _time(value: str, zone: ZoneInfo) -> dt.datetime | None:
    match = TIMESTAMP.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    if int(year) not in YEARS:
        return None
    try:
        tz: dt.tzinfo = zone
        if offset:
            sign = 1 if offset[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return dt.datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


def _required_time(segment: Segment, field_number: int, zone: ZoneInfo, reader: Reader) -> dt.datetime | None:
    value = segment.get(field_number)
    moment = _time(value, zone)
    if moment is None:
        message = (
            "is required (a date and time, YYYYMMDDHHMM)"
            if not value
            else f"'{value}' is not an HL7 date and time"
        )
        reader.problem(segment, f"{segment.name}-{field_number}", message)
    return moment


def _report(
    segment: Segment, number: str, facility: str, sent: dt.datetime | None, zone: ZoneInfo, reader: Reader
) -> Row:
    filler = segment.get(3) or segment.get(2)
    code, name = segment.get(4, 1), segment.get(4, 2) or segment.get(4, 1)
    status = REPORT_STATUS.get(segment.get(25) or "F")
    before = len(reader.problems)
    effective = _required_time(segment, 7, zone, reader)
    if not filler:
        reader.problem(
            segment, "OBR-3", "the filler order number is required, to recognise the report next time"
        )
    if not name:
        reader.problem(segment, "OBR-4", "the test or panel (code^name) is required")
    if status is None:
        reader.problem(segment, "OBR-25", f"'{segment.get(25)}' is not a known result status (F, P, C, X)")
    section = segment.get(24).upper()
    fields = {
        "category": codes.REPORT_CATEGORY_BY_SECTION.get(section, ResultReport.Category.LAB),
        "code": code[:40],
        "name": name[:200],
        "status": status,
        "effective_at": effective,
        "issued_at": _time(segment.get(22), zone) or sent or effective,
        "ordered_by_name": _person(segment, 16)[:200],
        "conclusion": "",
    }
    row = Row(
        ResultReport,
        number,
        f"hl7v2:{facility}|{filler}",
        fields,
        where=Where(line=segment.line, resource="OBR"),
    )
    # A faulty report still frames its values, so their own problems are listed too.
    if len(reader.problems) == before and effective is not None:
        reader.staged.rows.append(row)
    return row


def _person(segment: Segment, field_number: int) -> str:
    """An XCN (id^family^given^middle^suffix^prefix) as "prefix given family"."""
    parts = [segment.get(field_number, index) for index in (6, 3, 2)]
    return " ".join(part for part in parts if part)


def _observation(
    segment: Segment, report: Row | None, number: str, zone: ZoneInfo, reader: Reader
) -> Row | None:
    if report is None:
        reader.problem(segment, "OBX", "a value (OBX) must follow its report (OBR)")
        return None
    before = len(reader.problems)
    set_id, code = segment.get(1), segment.get(3, 1)
    status = VALUE_STATUS.get(segment.get(11) or "F")
    if not set_id:
        reader.problem(segment, "OBX-1", "the set id is required, to recognise the value next time")
    if not code:
        reader.problem(segment, "OBX-3", "the test (code^name) is required")
    if status is None:
        reader.problem(
            segment, "OBX-11", f"'{segment.get(11)}' is not a known result status (F, P, C, X, D, W)"
        )
    fields: dict[str, Any] = {
        "category": _category(report.fields["category"]),
        "code": code[:40],
        "name": (segment.get(3, 2) or code)[:200],
        "unit": (segment.get(6, 1) or segment.get(6, 2))[:40],
        "interpretation": _flag(segment.get(8)),
        "status": status,
        "effective_at": _time(segment.get(14), zone) or report.fields["effective_at"],
        "note": "",
        "sensitivity": report.fields.get("sensitivity", ""),
    }
    fields |= _value(segment, reader) | _range(segment.get(7))
    if len(reader.problems) > before:
        return None
    row = Row(
        Observation,
        number,
        f"{report.source_id}|{set_id}",
        fields,
        where=Where(line=segment.line, resource="OBX"),
        links={"report": report.source_id},
    )
    reader.staged.rows.append(row)
    return row


def _category(report_category: str) -> str:
    if report_category == ResultReport.Category.IMAGING:
        return Observation.Category.IMAGING
    return (
        Observation.Category.LABORATORY
        if report_category == ResultReport.Category.LAB
        else Observation.Category.OTHER
    )


def _flag(value: str) -> str:
    flag = value.upper()
    if flag in codes.INTERPRETATIONS:
        return flag
    return codes.INTERPRETATION_ALIASES.get(flag, "")


def _value(segment: Segment, reader: Reader) -> dict[str, Any]:
    kind, value = segment.get(2).upper(), segment.get(5)
    if kind == "NM" and value:
        number = _number(value)
        if number is None:
            reader.problem(segment, "OBX-5", f"'{value}' is not a number, but OBX-2 says NM")
        return {"value_number": number, "value_text": ""}
    if kind in ("CE", "CWE", "CNE"):
        value = segment.get(5, 2) or segment.get(5, 1)
    elif kind == "SN":
        comparator, amount = segment.get(5, 1), segment.get(5, 2)
        if not comparator and _number(amount) is not None:
            return {"value_number": _number(amount), "value_text": ""}
        value = f"{comparator}{amount}"
    if len(value) > 500:
        reader.problem(segment, "OBX-5", "is longer than 500 characters")
    return {"value_number": None, "value_text": value[:500]}


def _number(text: str) -> Decimal | None:
    if not NUMBER.match(text):
        return None
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number.quantize(Decimal("0.0001")) if abs(number) <= MAX_NUMBER else None


def _range(text: str) -> dict[str, Any]:
    both = RANGE.match(text)
    if both:
        return {"range_low": _number(both.group(1)), "range_high": _number(both.group(2)), "range_text": ""}
    bound = BOUND.match(text)
    if bound:
        side = "range_high" if bound.group(1).startswith("<") else "range_low"
        return {"range_low": None, "range_high": None, side: _number(bound.group(2)), "range_text": ""}
    return {"range_low": None, "range_high": None, "range_text": text[:100]}


def _comment(segment: Segment, report: Row | None, observation: Row | None) -> None:
    target = observation if observation is not None else report
    if target is None:
        return
    name = "note" if target is observation else "conclusion"
    text = segment.get(3)
    target.fields[name] = f"{target.fields[name]}\n{text}".strip() if target.fields[name] else text
