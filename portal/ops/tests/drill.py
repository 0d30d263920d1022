"""What the restore drill runs inside its throwaway portal (`manage.py shell -c`).

`seed` writes a small clinic like the demo's, with uploaded files and audit events;
`dump` writes every row of every table, ordered by primary key, as JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import connection

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import seed_patients
from portal.lib.uploads import CheckedFile
from portal.messaging import actions, routing
from portal.messaging.models import Topic
from portal.ops.database import quote
from portal.patients.access import decide
from portal.patients.models import Patient
from portal.records.models import Document

LETTER = b"%PDF-1.4\n1 0 obj<<>>endobj\n% a letter from the cardiologist\ntrailer<<>>\n%%EOF\n"
ATTACHMENT = b"%PDF-1.4\n1 0 obj<<>>endobj\n% my blood pressure readings\ntrailer<<>>\n%%EOF\n"


def seed() -> None:
    """The demo's organisation and three generated patients, plus a message and a document with files."""
    seed_organization()
    seed_patients(3, 2026, dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
    patient = Patient.objects.filter(account__isnull=False).order_by("pk").first()
    assert patient is not None and patient.account is not None
    access = decide(patient.account, patient)
    assert access is not None
    actions.do_start_thread(
        Actor.system(),
        access,
        topic=Topic.MEDICAL,
        care_team=routing.patient_care_teams(patient).first(),
        subject="My blood pressure readings",
        draft=actions.Draft(
            body="Here are this week's readings.",
            files=(CheckedFile(ATTACHMENT, "application/pdf", "readings.pdf"),),
        ),
    )
    document = Document(
        patient=patient,
        title="Letter from cardiology",
        dated_on=dt.date(2025, 3, 4),
        content_type="application/pdf",
        size=len(LETTER),
        sha256=hashlib.sha256(LETTER).hexdigest(),
    )
    document.file.save("letter.pdf", ContentFile(LETTER), save=True)
    for n in range(3):
        record(
            Actor(user=patient.account),
            "records.document_view",
            kind=Kind.READ,
            patient=patient,
            detail={"n": n},
        )


def dump(path: str) -> None:
    tables: dict[str, list[list[Any]]] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            primary_key = connection.introspection.get_primary_key_columns(cursor, table) or []
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608  (a catalog name)
            columns = [column[0] for column in cursor.description]
            rows = [[_plain(value) for value in row] for row in cursor.fetchall()]
            if primary_key:
                positions = [columns.index(name) for name in primary_key]
                rows.sort(key=lambda row: [row[i] for i in positions])
            else:
                rows.sort(key=repr)
            tables[table] = rows
    Path(path).write_text(json.dumps(tables, sort_keys=True), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date | dt.time | Decimal | dt.timedelta):
        return str(value)
    return value
