"""Importing HL7 v2 ORU^R01 result messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from portal.audit.models import AuditEvent
from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import row_counts
from portal.records.models import Observation, ResultReport
from portal.test import World

MSH = "MSH|^~\\&|LIS|ROCHLAB|PORTAL|CLINIC|20250304141500||ORU^R01|MSG0001|P|2.5.1"
PID = "PID|1||E5551234^^^EHR^MR~10000001^^^CLINIC^MR||Able^Alice||19800517|F"
OBR = (
    "OBR|1|PL778|FL12345^ROCHLAB|24323-8^Comprehensive metabolic panel^LN|||20250304081500|||||||||"
    "1234^Staff^Carol^^^Dr.||||||20250304140000||CH|F"
)
OBX = [
    "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL|70-99|N|||F|||20250304081500",
    "OBX|2|NM|2823-3^Potassium^LN||5.4|mmol/L|3.5-5.1|H|||F",
    "OBX|3|ST|5778-6^Color of urine^LN||Yellow||Yellow||||P",
    "OBX|4|NM|33914-3^eGFR^LN||72|mL/min/1.73m2|>60|N|||F",
]
NTE_REPORT = "NTE|1||Fasting sample."
NTE_VALUE = "NTE|1||Repeat in two weeks."


def message(*segments: str) -> bytes:
    return "\r".join(segments).encode()


def full() -> bytes:
    return message(MSH, PID, OBR, NTE_REPORT, OBX[0], OBX[1], NTE_VALUE, OBX[2], OBX[3])


def test_it_imports_a_result_message(world: World) -> None:
    report = import_file(full(), "cmp.hl7", "test")
    assert report.accepted and report.format == "hl7v2"
    assert report.patients["10000001"]["Observation"].created == 4
    panel = ResultReport.objects.get()
    assert panel.patient == world.alice and panel.source_id == "hl7v2:ROCHLAB|FL12345"
    assert (panel.code, panel.name, panel.status, panel.category) == (
        "24323-8",
        "Comprehensive metabolic panel",
        "final",
        "lab",
    )
    assert panel.ordered_by_name == "Dr. Carol Staff" and panel.conclusion == "Fasting sample."
    chicago = dt.timezone(dt.timedelta(hours=-6))
    assert panel.effective_at == dt.datetime(2025, 3, 4, 8, 15, tzinfo=chicago)
    assert panel.issued_at == dt.datetime(2025, 3, 4, 14, 0, tzinfo=chicago)
    rows = list(panel.observations.order_by("position"))
    assert [row.code for row in rows] == ["2345-7", "2823-3", "5778-6", "33914-3"]
    potassium = rows[1]
    assert (potassium.value_number, potassium.unit, potassium.interpretation) == (
        Decimal("5.4"),
        "mmol/L",
        "H",
    )
    assert (potassium.range_low, potassium.range_high) == (Decimal("3.5"), Decimal("5.1"))
    assert potassium.note == "Repeat in two weeks." and potassium.source_id == "hl7v2:ROCHLAB|FL12345|2"
    assert (rows[2].value_text, rows[2].status, rows[2].range_text) == ("Yellow", "preliminary", "Yellow")
    assert (rows[3].range_low, rows[3].range_high) == (Decimal("60"), None)
    assert AuditEvent.objects.filter(action="records.imported", patient_id=world.alice.pk).count() == 1


def test_a_corrected_message_updates_in_place(world: World) -> None:
    import_file(full(), "cmp.hl7", "test")
    corrected = message(
        MSH, PID, OBR[:-1] + "C", OBX[0], OBX[1].replace("|5.4|", "|4.8|").replace("|H|||F", "|N|||C")
    )
    report = import_file(corrected, "cmp-corrected.hl7", "test")
    assert report.accepted
    assert report.patients["10000001"]["Observation"].updated == 1
    assert ResultReport.objects.get().status == "corrected"
    potassium = Observation.objects.get(code="2823-3")
    assert (potassium.value_number, potassium.status, potassium.interpretation) == (
        Decimal("4.8"),
        "corrected",
        "N",
    )
    assert Observation.objects.count() == 4


def test_the_same_message_twice_changes_nothing(world: World) -> None:
    import_file(full(), "cmp.hl7", "test")
    before, events = row_counts(), AuditEvent.objects.count()
    assert import_file(full(), "cmp.hl7", "test").already_imported
    crlf = import_file(full().replace(b"\r", b"\r\n"), "cmp-crlf.hl7", "test")
    assert crlf.accepted and not crlf.changed
    assert row_counts() == {**before, "ImportBatch": before["ImportBatch"] + 1}
    assert AuditEvent.objects.count() == events


def rejected(data: bytes) -> list[str]:
    before = row_counts()
    report = import_file(data, "bad.hl7", "test")
    assert not report.accepted and row_counts() == before
    return [f"{problem.location}: {problem.message}" for problem in report.problems]


def test_a_message_without_pid_is_rejected(world: World) -> None:
    good = message(MSH, PID, OBR, OBX[0])
    assert rejected(good + b"\r" + message(MSH.replace("MSG0001", "MSG0002"), OBR, OBX[0])) == [
        "line 5 (MSH) PID: the message has no PID segment, so no patient"
    ]


def test_every_problem_has_its_line(world: World) -> None:
    data = "\n".join(
        [
            MSH,
            PID.replace("10000001", "99999999"),
            OBR.replace("|20250304081500|", "|yesterday|"),
            OBX[0].replace("|98|", "|ninety|"),
        ]
    ).encode()
    assert rejected(data) == [
        "line 2 (PID) PID-3: matches no patient of the clinic (identifiers: E5551234, 99999999); "
        "patients are never created",
        "line 3 (OBR) OBR-7: 'yesterday' is not an HL7 date and time",
        "line 4 (OBX) OBX-5: 'ninety' is not a number, but OBX-2 says NM",
    ]
    text = "\n".join(
        [MSH, PID, OBR.replace("|20250304081500|", "|yesterday|"), OBX[0].replace("|98|", "|ninety|")]
    )
    assert rejected(text.encode()) == [
        "line 3 (OBR) OBR-7: 'yesterday' is not an HL7 date and time",
        "line 4 (OBX) OBX-5: 'ninety' is not a number, but OBX-2 says NM",
    ]


def test_other_messages_and_garbage_are_rejected(world: World) -> None:
    assert rejected(message(MSH.replace("ORU^R01", "ADT^A01"), PID)) == [
        "line 1 (MSH) MSH-9: only ORU^R01 result messages are imported, not ADT^A01"
    ]
    assert rejected(b"\x00\x01garbage") == [
        "file: not a FHIR JSON bundle, an HL7 v2 message (MSH|) or a DICOM file"
    ]
    assert rejected(message(MSH, PID, OBX[0])) == [
        "line 3 (OBX) OBX: a value (OBX) must follow its report (OBR)"
    ]
    no_filler = OBR.replace("|PL778|FL12345^ROCHLAB|", "|||")
    assert rejected(message(MSH, PID, no_filler, OBX[0]))[0].startswith("line 3 (OBR) OBR-3:")
