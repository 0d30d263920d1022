"""Whatever arrives, the import answers with problems, never an exception, and saves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal.fhir.importing import import_file
from portal.fhir.tests.conftest import alice_bundle, row_counts
from portal.test import World


def with_entry(resource: Any) -> bytes:
    patient = json.loads(alice_bundle())["entry"][0]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [patient, resource]}).encode()


def observation(**fields: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
        "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        "effectiveDateTime": "2025-01-01T10:00:00Z",
    }
    return {"fullUrl": "urn:uuid:x1", "resource": resource | fields}


CASES = [
    b"",
    b"   ",
    b"[]",
    b"[1, 2]",
    b'"Bundle"',
    b"{}",
    b'{"resourceType": "Bundle", "type": "collection", "entry": "lots"}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [1, null, "x", []]}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "../../etc"}}]}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "__init__"}}]}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": null}}]}',
    b'\xef\xbb\xbf{"resourceType": "Bundle", "type": 7, "entry": [{"fullUrl": 5, "resource": {}}]}',
    b'{"resourceType": "Bundle", "type": "batch", "entry": [{"request": "POST", "resource": {"resourceType": "Observation"}}]}',
    '{"résumé": "\u0000"}'.encode(),
    b"\xff\xfe\x00{",
    with_entry(observation(valueQuantity={"value": 1e400, "unit": "mg"})),
    with_entry(observation(valueQuantity={"value": 12345678901234567890, "unit": "mg"})),
    with_entry(observation(effectiveDateTime="0001-01-01T00:00:00+14:00")),
    with_entry(observation(effectiveDateTime="9999-12-31T23:59:59-14:00")),
    with_entry(observation(valueString="x" * 600)),
    with_entry(observation(subject={"reference": "Patient/elsewhere"})),
    with_entry(observation(subject=None)),
    with_entry(observation(code={"text": "no code"})),
    with_entry(
        {
            "fullUrl": "urn:uuid:x2",
            "resource": {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": {"text": "Flu"},
                "occurrenceDateTime": "2024-01-01",
                "patient": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
                "protocolApplied": [{"doseNumberPositiveInt": 99999999}],
            },
        }
    ),
    with_entry(
        {
            "fullUrl": "urn:uuid:x3",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
                "content": [{"attachment": {"contentType": "application/pdf", "data": "aGVsbG8="}}],
            },
        }
    ),
    with_entry(
        {
            "fullUrl": "urn:uuid:x4",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
                "content": [{"attachment": {"contentType": "text/html", "url": "http://example.org/x"}}],
            },
        }
    ),
    b"MSH|",
    b"MSH|^~\\&|\rPID|||",
    b"MSH|^~\\&|A|B|C|D|20250101||ORU^R01|1|P|2.5\rPID|1||10000001\rOBR|1||F1|X^Y|||99999999999999\rOBX|||",
    b"MSH|^~\\&|A|B|C|D|20250101||ORU^R01|1|P|2.5\rPID|1||10000001\rOBR|1||F1|X^Y|||20250101|||||||||||||||Q"
    b"\rOBX|1|NM|A^B||1e999",
    b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00garbage" * 10,
    b"\x00" * 128 + b"DICM",
    # Nested far past Python's recursion limit.
    b'{"resourceType": "Bundle", "type": "collection", "entry": ' + b"[" * 100_000,
    # A NUL in an identifier: PostgreSQL cannot store it, so it is a problem, not "busy".
    with_entry(
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:portal:clinic-number", "value": "1000\u00000001"}],
        }
    ),
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_hostile_files_are_rejected_cleanly(world: World, data: bytes) -> None:
    before = row_counts()
    report = import_file(data, "hostile", "test")
    assert not report.accepted
    assert all(problem.message for problem in report.problems)
    assert report.as_text().startswith("Rejected")
    json.dumps(report.operation_outcome())
    assert row_counts() == before
