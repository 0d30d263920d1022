"""The staff inbox pages of the benchmark, measured as the benchmark clinician, with their raw-SQL floors.

The queue is the pool's default view (open threads, latest message first, with the new
and overdue counts); the thread is the heavy patient's conversation of `long_thread`
messages, which shows its latest page. Each baseline fetches with hand-written SQL what
the page shows, no more: the page's own writes (marking messages read, the audit event)
are left out, as the other baselines leave out theirs.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from benchmarks.inbox import INBOX_POOL, LONG_THREAD_SUBJECT
from portal.accounts.models import User
from portal.messaging.models import (
    Attachment,
    Message,
    Referral,
    RefillRequest,
    ReplyTemplate,
    StaffNote,
    Thread,
)
from portal.messaging.views_inbox import (
    CONTEXT_ROWS,
    COUNT_CAP,
    MESSAGES_SHOWN,
    NOTES_SHOWN,
    QUEUE_ROWS,
    UPCOMING_SHOWN,
)
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import Patient
from portal.records.models import Allergy, Medication, Problem, ResultReport
from portal.scheduling.models import Appointment, VisitType

Statements = list[tuple[str, list[Any]]]
OPEN = tuple(str(status) for status in Thread.OPEN_STATUSES)


@functools.cache
def _pool_id(slug: str = INBOX_POOL) -> int:
    return int(CareTeam.objects.values_list("pk", flat=True).get(slug=slug))


# Keyed by the patient: a new benchmark database (as in the tests) has new rows.
@functools.cache
def _long_thread_id(patient_id: int) -> int:
    found = Thread.objects.filter(patient_id=patient_id, subject=LONG_THREAD_SUBJECT, pool_id=_pool_id())
    return int(found.values_list("pk", flat=True).get())


def queue_url(patient: Patient) -> str:
    return f"{reverse('inbox:queue')}?{urlencode({'pool': _pool_id()})}"


def thread_url(patient: Patient) -> str:
    return reverse("inbox:thread", args=[_long_thread_id(patient.pk)])


def _run(cursor: Any, statements: Statements) -> list[list[Any]]:
    results = []
    for sql, params in statements:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
    return results


def _pools_sql() -> str:
    """The pools the user works, for the pool chooser both pages show."""
    team, practitioner = CareTeam._meta.db_table, Practitioner._meta.db_table
    members = CareTeam.members.through._meta.db_table
    return (
        f"SELECT DISTINCT t.id, t.name, t.kind FROM {team} t JOIN {members} m ON m.careteam_id = t.id "
        f"JOIN {practitioner} p ON p.id = m.practitioner_id WHERE p.user_id = %s AND p.active "
        "ORDER BY t.name, t.id"
    )


def queue_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The pool's open threads, latest first, with patient, assignee and campus; the capped
    counts of new and overdue threads; and the user's pools."""
    thread, person = Thread._meta.db_table, Patient._meta.db_table
    practitioner, campus = Practitioner._meta.db_table, Campus._meta.db_table
    pool, now = _pool_id(), timezone.now()
    statuses = ", ".join(["%s"] * len(OPEN))
    statements: Statements = [
        (_pools_sql(), [user.pk]),
        # One walk down the pool's index per open status, as a hand-written page would:
        # a single IN (...) would sort every open thread of the pool to find the latest.
        *(
            (
                f"SELECT t.id, t.subject, t.topic, t.status, t.last_message_at, t.due_at, p.given_name, "
                f"p.family_name, p.clinic_number, a.given_name, a.family_name, a.credentials, a.role, "
                f"c.time_zone, c.zone_label FROM {thread} t JOIN {person} p ON p.id = t.patient_id "
                f"LEFT JOIN {practitioner} a ON a.user_id = t.assigned_to_id "
                f"LEFT JOIN {campus} c ON c.id = t.campus_id WHERE t.pool_id = %s AND t.status = %s "
                f"ORDER BY t.last_message_at DESC, t.id DESC LIMIT {QUEUE_ROWS + 1}",
                [pool, status],
            )
            for status in OPEN
        ),
        (
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {thread} WHERE pool_id = %s AND status = %s "
            f"LIMIT {COUNT_CAP + 1}) AS capped",
            [pool, Thread.Status.NEW.value],
        ),
        (
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {thread} WHERE pool_id = %s AND status IN ({statuses}) "
            f"AND due_at < %s LIMIT {COUNT_CAP + 1}) AS capped",
            [pool, *OPEN, now],
        ),
    ]
    _run(cursor, statements)
    return len(statements)


def thread_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The thread with its patient, pool, campus, assignee and request; its latest page of
    messages with authors, linked results and visits, their attachments and the notes of
    the same stretch; the patient's upcoming visits, medicines, allergies and problems; and
    what the reply, assign and move forms offer (templates, pool members, other pools)."""
    thread_id, pool, now = _long_thread_id(patient.pk), _pool_id(), timezone.now()
    thread, person, team = Thread._meta.db_table, Patient._meta.db_table, CareTeam._meta.db_table
    practitioner, campus, user_table = Practitioner._meta.db_table, Campus._meta.db_table, User._meta.db_table
    message, report, appointment = (
        Message._meta.db_table,
        ResultReport._meta.db_table,
        Appointment._meta.db_table,
    )
    _run(cursor, [(
        f"SELECT t.id, t.subject, t.topic, t.status, t.due_at, t.assigned_to_id, p.given_name, "
        f"p.family_name, p.clinic_number, p.birth_date, p.preferred_language, o.name, c.time_zone, "
        f"c.zone_label, a.given_name, a.family_name, a.credentials, a.role, "
        f"(SELECT id FROM {RefillRequest._meta.db_table} WHERE thread_id = t.id), "
        f"(SELECT id FROM {Referral._meta.db_table} WHERE thread_id = t.id) "
        f"FROM {thread} t JOIN {person} p ON p.id = t.patient_id JOIN {team} o ON o.id = t.pool_id "
        f"LEFT JOIN {campus} c ON c.id = t.campus_id LEFT JOIN {practitioner} a ON a.user_id = t.assigned_to_id "
        "WHERE t.id = %s",
        [thread_id],
    )])  # fmt: skip
    (messages,) = _run(cursor, [(
        f"SELECT m.id, m.from_staff, m.body, m.created_at, m.read_at, u.first_name, u.last_name, "
        f"s.given_name, s.family_name, s.credentials, s.role, r.id, r.name, v.id, v.starts_at, vc.time_zone "
        f"FROM {message} m JOIN {user_table} u ON u.id = m.author_id "
        f"LEFT JOIN {practitioner} s ON s.user_id = m.author_id LEFT JOIN {report} r ON r.id = m.result_id "
        f"LEFT JOIN {appointment} v ON v.id = m.appointment_id LEFT JOIN {campus} vc ON vc.id = v.campus_id "
        f"WHERE m.thread_id = %s ORDER BY m.created_at DESC, m.id DESC LIMIT {MESSAGES_SHOWN + 1}",
        [thread_id],
    )])  # fmt: skip
    shown = messages[:MESSAGES_SHOWN]
    ids = [row[0] for row in shown] or [0]
    first_shown = shown[-1][3] if shown else now
    statements: Statements = [
        (
            f"SELECT id, message_id, content_type, size, original_name FROM {Attachment._meta.db_table} "
            f"WHERE message_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id",
            ids,
        ),
        (
            f"SELECT n.id, n.body, n.created_at, s.given_name, s.family_name, s.credentials, s.role "
            f"FROM {StaffNote._meta.db_table} n LEFT JOIN {practitioner} s ON s.user_id = n.author_id "
            f"WHERE n.thread_id = %s AND n.created_at >= %s ORDER BY n.created_at DESC, n.id DESC "
            f"LIMIT {NOTES_SHOWN}",
            [thread_id, first_shown],
        ),
        *_patient_context(patient, now),
        (
            f"SELECT id, name, body, pool_id FROM {ReplyTemplate._meta.db_table} "
            "WHERE (pool_id = %s OR pool_id IS NULL) AND active ORDER BY name, id",
            [pool],
        ),
        (
            f"SELECT DISTINCT u.id, s.given_name, s.family_name, s.credentials, s.role FROM {user_table} u "
            f"JOIN {practitioner} s ON s.user_id = u.id JOIN {CareTeam.members.through._meta.db_table} m "
            "ON m.practitioner_id = s.id WHERE m.careteam_id = %s AND s.active AND u.is_active "
            "ORDER BY s.family_name, s.given_name, u.id",
            [pool],
        ),
        (f"SELECT id, name FROM {team} WHERE id <> %s ORDER BY name, id", [pool]),
    ]
    _run(cursor, statements)
    return 2 + len(statements)


def _patient_context(patient: Patient, now: dt.datetime) -> Statements:
    """Beside the thread: the next visits, and the active medicines, allergies and problems."""
    appointment, visit_type = Appointment._meta.db_table, VisitType._meta.db_table
    practitioner, campus = Practitioner._meta.db_table, Campus._meta.db_table
    return [
        (
            f"SELECT a.id, a.starts_at, t.name, p.given_name, p.family_name, c.name, c.time_zone "
            f"FROM {appointment} a JOIN {visit_type} t ON t.id = a.visit_type_id "
            f"LEFT JOIN {practitioner} p ON p.id = a.practitioner_id JOIN {campus} c ON c.id = a.campus_id "
            "WHERE a.patient_id = %s AND a.status = %s AND a.starts_at >= %s "
            f"ORDER BY a.starts_at, a.id LIMIT {UPCOMING_SHOWN}",
            [patient.pk, Appointment.Status.BOOKED.value, now],
        ),
        (
            f"SELECT id, name, dose, instructions, status FROM {Medication._meta.db_table} "
            f"WHERE patient_id = %s AND status IN ('active', 'on-hold') ORDER BY name, id LIMIT {CONTEXT_ROWS}",
            [patient.pk],
        ),
        (
            f"SELECT id, substance, reaction, severity FROM {Allergy._meta.db_table} "
            f"WHERE patient_id = %s AND status = 'active' ORDER BY substance, id LIMIT {CONTEXT_ROWS}",
            [patient.pk],
        ),
        (
            f"SELECT id, name, status FROM {Problem._meta.db_table} WHERE patient_id = %s "
            f"AND status IN ('active', 'recurrence') ORDER BY name, id LIMIT {CONTEXT_ROWS}",
            [patient.pk],
        ),
    ]
