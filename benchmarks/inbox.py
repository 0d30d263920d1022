"""A busy care team's message inbox, for the staff inbox pages of the benchmark.

The heavy patient's family medicine team (`INBOX_POOL`, which the benchmark clinician
belongs to) gets `threads` conversations with many of its patients, `messages` messages
in all: most closed long ago, a few hundred open or waiting from the last three weeks,
some of those past their response-time target. One conversation is the heavy patient's
and holds `long_thread` messages: the thread page measured. Rows go in with
`insert_rows` in batches, a few seconds for the full size; nobody wrote these messages,
so no action runs and nobody is told.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from django.conf import settings

from portal.accounts.models import User
from portal.lib.seeding.bulk import insert_rows, new
from portal.messaging.models import Message, Thread, Topic
from portal.organization.models import CareTeam, Practitioner
from portal.patients.models import CareRelationship

if TYPE_CHECKING:
    from benchmarks.history import History

INBOX_POOL = "rochester-family-medicine"
LONG_THREAD_SUBJECT = "Blood sugar readings and insulin doses"
THREAD_BATCH = 1000
# Open work is recent: threads waiting on the patient got their answer within these last days,
# and the patient's unanswered message is on average this many hours old.
OPEN_WINDOW_DAYS = 21
AWAITING_HOURS = 20
# The heavy patient's share of the other threads, so their own message list is long too.
HEAVY_SHARE = 0.01
Status = Thread.Status
# (status, weight): a team that keeps up, with a day or two of new work and some overdue.
STATUSES = ((Status.CLOSED, 88), (Status.WAITING_ON_PATIENT, 6), (Status.NEW, 3), (Status.IN_PROGRESS, 3))
SUBJECTS: dict[str, tuple[str, ...]] = {
    Topic.MEDICAL: (
        "Blood pressure readings", "Headaches since last week", "Cough that will not go away",
        "Side effects of the new tablets", "Knee pain after walking", "Trouble sleeping",
    ),
    Topic.RESULT: ("Question about my blood test", "Cholesterol result", "What does my A1c mean?"),
    Topic.PRESCRIPTION: ("Dose of metformin", "Can I take ibuprofen with my tablets?", "Inhaler running out"),
    Topic.REFERRAL: ("Referral to a dermatologist", "Do I need a referral for physio?"),
    Topic.OTHER: ("Form for my employer", "Travel vaccines", "Change of address"),
}  # fmt: skip
TOPIC_WEIGHTS = {
    Topic.MEDICAL: 45,
    Topic.RESULT: 20,
    Topic.PRESCRIPTION: 20,
    Topic.REFERRAL: 5,
    Topic.OTHER: 10,
}
PATIENT_LINES = (
    "My readings this week were a little higher than usual, mostly in the mornings. Should I worry?",
    "Thank you. I will do that and let you know how it goes.",
    "It is still there after a week. Is there anything else I can try before coming in?",
    "I started the new tablets on Monday and feel a bit dizzy when I stand up.",
    "Could you tell me whether I need to fast before the blood test?",
    "Any news on this? I have not heard back yet.",
    "That makes sense. One more question: can I keep taking my vitamins?",
)
STAFF_LINES = (
    "Thank you for letting us know. Please keep a record of your readings for another week and send them to us.",
    "That is a common side effect in the first weeks. Stand up slowly, and tell us if it does not settle.",
    "Your result is within the normal range, so there is nothing to change for now.",
    "Yes, please fast for 8 hours before the test. Water is fine.",
    "I have spoken with the doctor, who would like to see you. Please book a visit in the next two weeks.",
    "You are welcome. We will close this conversation; write again any time.",
)


@dataclass(frozen=True)
class Writer:
    """A patient who writes to the pool, and the sign-in they write with."""

    patient_id: int
    user_id: int


def add_inbox(history: History) -> int:
    """The pool's conversations and messages; returns how many messages were written."""
    sizes = history.sizes
    if sizes.threads <= 0 or sizes.messages <= 0:
        return 0
    pool = CareTeam.objects.get(slug=INBOX_POOL)
    staff = _pool_staff(pool, history.clinician)
    heavy = Writer(history.patient.pk, history.user.pk)
    writers = _writers(pool) or [heavy]
    long_length = min(sizes.long_thread, sizes.messages - (sizes.threads - 1))
    lengths = _lengths(history.rng, sizes.threads - 1, sizes.messages - long_length)
    maker = _Maker(history, pool, staff)
    written = maker.insert([maker.long_thread(heavy, long_length)])
    drafts = (
        maker.thread(heavy if history.rng.random() < HEAVY_SHARE else history.rng.choice(writers), length)
        for length in lengths
    )
    while batch := list(islice(drafts, THREAD_BATCH)):
        written += maker.insert(batch)
    return written


def _pool_staff(pool: CareTeam, clinician: User) -> list[int]:
    """The pool's members as sign-ins (generated staff get one here), the benchmark clinician first."""
    users = [clinician.pk]
    for practitioner in pool.members.filter(active=True).exclude(user=clinician).order_by("pk"):
        if practitioner.user_id is None:
            practitioner.user = _staff_user(practitioner)
            practitioner.save(update_fields=["user"])
        users.append(practitioner.user_id)  # type: ignore[arg-type]
    return users


def _staff_user(practitioner: Practitioner) -> User:
    user = User(
        username=f"bench-staff-{practitioner.pk}",
        first_name=practitioner.given_name,
        last_name=practitioner.family_name,
        email=f"bench-staff-{practitioner.pk}@example.org",
    )
    user.set_unusable_password()
    user.save()
    return user


def _writers(pool: CareTeam) -> list[Writer]:
    """The pool's patients who have a sign-in, in a stable order."""
    rows = (
        CareRelationship.objects.filter(care_team=pool, patient__account__isnull=False)
        .values_list("patient_id", "patient__account_id")
        .order_by("patient_id")
        .distinct()
    )
    return [Writer(patient_id, user_id) for patient_id, user_id in rows]


def _lengths(rng: random.Random, threads: int, messages: int) -> list[int]:
    """How many messages each thread holds: one each, the rest scattered among them."""
    lengths = [1] * threads
    for _ in range(max(messages - threads, 0) if threads else 0):
        lengths[rng.randrange(threads)] += 1
    return lengths


@dataclass
class _Draft:
    """A thread and its messages, before either has a primary key."""

    thread: Thread
    messages: list[Message]


class _Maker:
    """Builds threads with believable statuses, dates and read marks."""

    def __init__(self, history: History, pool: CareTeam, staff: list[int]) -> None:
        self.rng = history.rng
        self.start, self.end = history.start, history.end
        self.pool = pool
        self.staff = staff
        self.statuses = [status for status, _weight in STATUSES]
        self.status_weights = [weight for _status, weight in STATUSES]
        self.topics = list(TOPIC_WEIGHTS)
        self.topic_weights = list(TOPIC_WEIGHTS.values())

    def thread(self, writer: Writer, length: int) -> _Draft:
        status = self.rng.choices(self.statuses, self.status_weights)[0]
        topic = self.rng.choices(self.topics, self.topic_weights)[0]
        span = dt.timedelta(hours=self.rng.uniform(1, 24 * 10)) if length > 1 else dt.timedelta(0)
        if status == Status.CLOSED:
            last = self._between(self.start + span, self.end - dt.timedelta(days=OPEN_WINDOW_DAYS))
        elif status == Status.WAITING_ON_PATIENT:
            last = self.end - dt.timedelta(days=self.rng.uniform(0, OPEN_WINDOW_DAYS))
        else:
            # Most patients wrote in the last day or two; with the messages before it, about a
            # quarter of these threads are past their response-time target.
            last = self.end - dt.timedelta(hours=min(self.rng.expovariate(1 / AWAITING_HOURS), 24 * 14))
        began = last - span
        middle = sorted(began + span * self.rng.random() for _ in range(length - 2))
        times = [began, *middle, last] if length > 1 else [last]
        return self._draft(writer, topic, self.rng.choice(SUBJECTS[topic]), status, times)

    def long_thread(self, writer: Writer, length: int) -> _Draft:
        """The heavy patient's conversation of two years, still going: it is their turn to be answered."""
        began = self.end - dt.timedelta(days=730)
        step = (self.end - dt.timedelta(hours=2) - began) / max(length - 1, 1)
        times = [began + step * index for index in range(length)]
        return self._draft(writer, Topic.MEDICAL, LONG_THREAD_SUBJECT, Status.IN_PROGRESS, times)

    def _between(self, earliest: dt.datetime, latest: dt.datetime) -> dt.datetime:
        return earliest + (latest - earliest) * self.rng.random()

    def _draft(
        self, writer: Writer, topic: str, subject: str, status: str, times: list[dt.datetime]
    ) -> _Draft:
        sides = _sides(len(times), status)
        answerer = self.rng.choice(self.staff)
        messages = [
            new(
                Message,
                author_id=answerer if from_staff else writer.user_id,
                from_staff=from_staff,
                body=self.rng.choice(STAFF_LINES if from_staff else PATIENT_LINES),
                created_at=at,
                read_at=self._read_at(times, sides, index, status),
            )
            for index, (at, from_staff) in enumerate(zip(times, sides, strict=True))
        ]
        thread = new(
            Thread,
            patient_id=writer.patient_id,
            topic=topic,
            subject=subject,
            pool_id=self.pool.pk,
            care_team_id=self.pool.pk,
            campus_id=self.pool.campus_id,
            status=status,
            assigned_to_id=None if status == Status.NEW else answerer,
            started_by_id=answerer if sides[0] else writer.user_id,
            started_by_staff=sides[0],
            created_at=times[0],
            last_message_at=times[-1],
            due_at=_due_at(topic, times, sides) if status in Thread.OPEN_STATUSES else None,
        )
        return _Draft(thread, messages)

    def _read_at(
        self, times: list[dt.datetime], sides: list[bool], index: int, status: str
    ) -> dt.datetime | None:
        """Read when the other side answered; the last word is read unless still new (or, for a
        staff reply, unless the patient has not looked yet)."""
        answered = next(
            (times[later] for later in range(index + 1, len(times)) if sides[later] != sides[index]), None
        )
        if answered is not None:
            return answered
        if (not sides[index] and status == Status.NEW) or (sides[index] and self.rng.random() < 0.4):
            return None
        return min(times[index] + dt.timedelta(minutes=self.rng.randint(5, 600)), self.end)

    def insert(self, drafts: list[_Draft]) -> int:
        insert_rows(Thread, [draft.thread for draft in drafts], keys=True)
        messages = []
        for draft in drafts:
            for message in draft.messages:
                message.thread_id = draft.thread.pk
                messages.append(message)
        insert_rows(Message, messages)
        return len(messages)


def _sides(length: int, status: str) -> list[bool]:
    """Who wrote each message (True for staff): turns from the patient, and the last word
    the status implies (the patient's while the pool owes an answer)."""
    sides = [index % 2 == 1 for index in range(length)]
    sides[-1] = status not in Thread.OPEN_STATUSES
    return sides


def _due_at(topic: str, times: list[dt.datetime], sides: list[bool]) -> dt.datetime:
    """The response-time target, from the patient's oldest message since staff last wrote."""
    oldest = len(times) - 1
    while oldest > 0 and not sides[oldest - 1]:
        oldest -= 1
    hours = settings.PORTAL_MESSAGE_RESPONSE_HOURS.get(topic, settings.PORTAL_MESSAGE_RESPONSE_HOURS["other"])
    return times[oldest] + dt.timedelta(hours=int(hours))
