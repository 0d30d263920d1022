"""Conversations for the demo: Jamie's with the care team and the billing office, and the Brooks family's.

demo-patient (Jamie) has one of each state the messaging pages show: a blood pressure
conversation the care team answered yesterday (unread, with a photo of the readings
log Jamie sent), a question about a cholesterol result still waiting for the care team,
a closed conversation from last month, and a billing question past its response time.
Jamie also has a saved pharmacy, an approved refill with its conversation, an approved
referral to Dermatology and one to Orthopedics waiting for a decision. demo-parent has
written about Mia's inhaler (answered) and asked the Rochester desk to move Walter's
visit (waiting), so demo-clinician, demo-billing and demo-scheduler each find work in
their inbox. Stock replies ("Refill approved", ...) exist for every pool.

Unlike most seeding this goes through the real actions (`do_start_thread`, `do_reply`,
the refill and referral actions), so threads route, notify and audit as they do in use;
the audit events say the system wrote them, at the time it did. Afterwards the messages,
their notifications and emails, and the requests are dated back over the last weeks, as
if written then, and what was answered is marked read. Each conversation is keyed by its
patient and subject (a request by its notes or specialty): a re-run adds only what is
missing and leaves alone what the demo users have since done.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image, ImageDraw

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.lib.seeding.demo_users import (
    DEMO_CHILD_NUMBER,
    DEMO_DEPENDENT_NUMBER,
    DEMO_PATIENT_NUMBER,
    FAMILY_TEAM,
    DemoRefused,
)
from portal.lib.uploads import CheckedFile, check_image
from portal.messaging import routing
from portal.messaging.actions import Draft, do_reply, do_start_thread
from portal.messaging.actions_referrals import do_approve_referral, do_request_referral
from portal.messaging.actions_refills import do_approve_refill, do_request_refill, do_save_pharmacy
from portal.messaging.models import Message, Pharmacy, Referral, RefillRequest, ReplyTemplate, Thread, Topic
from portal.messaging.staff_actions import do_set_thread_status
from portal.notifications.models import Notification, OutboxMessage
from portal.organization.models import CareTeam, Department, Practitioner
from portal.patients.access import PatientAccess, decide, pool_access
from portal.patients.models import Patient
from portal.records.access import visible, visible_reports
from portal.records.models import Medication
from portal.scheduling.models import Appointment

T = TypeVar("T")
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
# How long after a message arrives its reader opens it, in these stories.
READ_AFTER = 2 * HOUR
ROCHESTER = ZoneInfo("America/Chicago")
PHARMACY = ("Willow Bend Pharmacy", "402 Willow Bend Lane SW, Rochester, MN 55902", "507-555-0147")
REFILL_NOTES = "I have about a week of tablets left."
REPLY_TEMPLATES = [
    (
        "Refill approved",
        "Hello {patient}, your refill is approved and on its way to your pharmacy. It is usually "
        "ready to collect the next working day.\n\n{staff}, {pool}",
    ),
    (
        "Please book a visit",
        "Hello {patient}, we would like to see you about this. Please book a visit in the next two "
        "weeks on the Appointments page, or call us.\n\n{staff}, {pool}",
    ),
    (
        "Result is normal",
        "Hello {patient}, your result is in the normal range, so nothing needs to change.\n\n{staff}, {pool}",
    ),
    (
        "We received your message",
        "Hello {patient}, thank you for your message. We have it and will answer within two "
        "working days. If it gets worse, call us or, in an emergency, your local emergency number.\n\n"
        "{staff}, {pool}",
    ),
]


@dataclass(frozen=True)
class Cast:
    """The people and pools of the stories, and each side's access."""

    jamie: PatientAccess
    mia: PatientAccess  # demo-parent acting for Mia
    walter: PatientAccess  # demo-parent acting for Walter
    family: CareTeam
    clinician: User
    nurse: User
    billing: User

    def staff(self, user: User, thread: Thread) -> PatientAccess:
        access = pool_access(user, thread.patient, thread.pool)
        if access is None:
            raise RuntimeError(f"{user} does not work {thread.pool}'s inbox")
        return access


def seed_demo_messages(now: dt.datetime | None = None) -> int:
    """Give the demo sign-ins their conversations and requests; returns how many conversations were added.

    The demo sign-ins must exist (`demo_users.create_demo_users`); appointments are
    linked where `seed_demo_appointments` has made them.
    """
    if settings.PRODUCTION:
        raise DemoRefused("Demo conversations are never created in production.")
    now = now or timezone.now()
    with transaction.atomic():
        seed_reply_templates()
        cast = _cast()
        if cast is None:
            return 0
        clock = Clock(now)
        stories = (
            _blood_pressure, _cholesterol, _travel_letter, _statement, _refill,
            _dermatology, _orthopedics, _mia_inhaler, _walter_visit,
        )  # fmt: skip
        return sum(story(cast, clock) for story in stories)


def seed_reply_templates() -> None:
    """The stock replies every pool may start from; an administrator's edits are kept."""
    for name, body in REPLY_TEMPLATES:
        ReplyTemplate.objects.get_or_create(name=name, pool=None, defaults={"body": body})


def _cast() -> Cast | None:
    patients = {
        patient.clinic_number: patient
        for patient in Patient.objects.filter(
            clinic_number__in=(DEMO_PATIENT_NUMBER, DEMO_CHILD_NUMBER, DEMO_DEPENDENT_NUMBER)
        ).select_related("account")
    }
    users = {user.username: user for user in User.objects.filter(username__startswith="demo-")}
    family = CareTeam.objects.filter(slug=FAMILY_TEAM).first()
    needed = ("demo-patient", "demo-parent", "demo-clinician", "demo-billing")
    if len(patients) < 3 or family is None or any(name not in users for name in needed):
        return None
    jamie = decide(users["demo-patient"], patients[DEMO_PATIENT_NUMBER])
    mia = decide(users["demo-parent"], patients[DEMO_CHILD_NUMBER])
    walter = decide(users["demo-parent"], patients[DEMO_DEPENDENT_NUMBER])
    if jamie is None or mia is None or walter is None:
        return None
    clinician = users["demo-clinician"]
    return Cast(jamie, mia, walter, family, clinician, _nurse(family) or clinician, users["demo-billing"])


def _nurse(team: CareTeam) -> User | None:
    """The team's nurse, given a sign-in of their own so they can answer and be assigned
    (nobody signs in with it: it has no password)."""
    nurse = team.members.filter(role=Practitioner.Role.NURSE, active=True).order_by("pk").first()
    if nurse is None:
        return None
    if nurse.user is None:
        username = f"{nurse.given_name}.{nurse.family_name}".lower()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": nurse.given_name,
                "last_name": nurse.family_name,
                "email": f"{username}@example.org",
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        nurse.user = user
        nurse.save(update_fields=["user"])
    return nurse.user


# Dating what an action wrote ------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """When things happened in the stories, and dating what the actions wrote to then."""

    now: dt.datetime

    def ago(self, days: float, hour: int, minute: int = 0) -> dt.datetime:
        """`days` before now at a time of day in Rochester (people write in waking hours),
        never later than a few minutes ago."""
        # Counted in Rochester's calendar (aware arithmetic is wall-clock time), so "24 days
        # ago" is the day before "23 days ago" across a clock change too.
        day = self.now.astimezone(ROCHESTER) - dt.timedelta(days=days)
        moment = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return min(moment, self.now - dt.timedelta(minutes=10))

    def at(self, moment: dt.datetime, action: Callable[[], T], *, read: bool = True) -> T:
        """Run `action` and date what it wrote to `moment`: its messages and the notifications
        and emails about them, opened (and the emails sent) by now if `read`."""
        since = [_last_pk(model) for model in (Message, Notification, OutboxMessage)]
        result = action()
        opened = min(moment + READ_AFTER, self.now) if read else None
        Message.objects.filter(pk__gt=since[0]).update(created_at=moment, read_at=opened)
        Notification.objects.filter(pk__gt=since[1]).update(created_at=moment, read_at=opened)
        OutboxMessage.objects.filter(pk__gt=since[2]).update(
            created_at=moment, send_after=moment, sent_at=moment if read else None
        )
        return result


def _last_pk(model: type[models.Model]) -> int:
    return int(model._default_manager.aggregate(last=Max("pk"))["last"] or 0)


def settle(thread: Thread) -> None:
    """Date the thread by its messages, and run its response-time target from the patient's
    oldest unanswered message, as if everything had happened when it says."""
    thread.refresh_from_db()
    sent = list(thread.messages.order_by("created_at", "pk").values_list("created_at", "from_staff"))
    due = None
    if thread.due_at is not None and thread.status in Thread.OPEN_STATUSES:
        unanswered = _unanswered(sent)
        due = routing.due_at(thread.topic, unanswered[0]) if unanswered else None
    Thread.objects.filter(pk=thread.pk).update(created_at=sent[0][0], last_message_at=sent[-1][0], due_at=due)


def _unanswered(sent: list[tuple[dt.datetime, bool]]) -> list[dt.datetime]:
    """When the patient's side wrote since staff last did, oldest first."""
    since: list[dt.datetime] = []
    for when, from_staff in reversed(sent):
        if from_staff:
            break
        since.insert(0, when)
    return since


def _exists(access: PatientAccess, subject: str) -> bool:
    return Thread.objects.filter(patient=access.patient, subject=subject).exists()


def _start(
    access: PatientAccess, topic: str, subject: str, draft: Draft, care_team: CareTeam | None
) -> Callable[[], Thread]:
    return lambda: do_start_thread(
        Actor.system(), access, topic=topic, care_team=care_team, subject=subject, draft=draft
    )


def _reply(access: PatientAccess, thread: Thread, draft: Draft) -> Callable[[], Message]:
    return lambda: do_reply(Actor.system(), access, thread, draft)


# Jamie's conversations ---------------------------------------------------------------------

BLOOD_PRESSURE = "Blood pressure readings after the dose change"


def _blood_pressure(cast: Cast, clock: Clock) -> int:
    """Answered yesterday by Dr. Raman; Jamie has not read it yet. Jamie's photo of the log is attached."""
    if _exists(cast.jamie, BLOOD_PRESSURE):
        return 0
    question = Draft(
        "Since the dose went up my morning readings are around 128/82, but I feel light-headed "
        "when I stand up quickly. Is that expected?"
    )
    thread = clock.at(
        clock.ago(6, 19, 40), _start(cast.jamie, Topic.MEDICAL, BLOOD_PRESSURE, question, cast.family)
    )
    advice = Draft(
        "Thank you, Jamie. Those readings are good. Light-headedness when standing can happen in the "
        "first weeks: stand up slowly and drink enough water. Could you send a week of readings, "
        "morning and evening?"
    )
    clock.at(clock.ago(5, 10, 15), _reply(cast.staff(cast.nurse, thread), thread, advice))
    log = Draft("Here is my log for the week. The dizziness is better.", files=(_readings_log(),))
    clock.at(clock.ago(2, 20, 5), _reply(cast.jamie, thread, log))
    answer = Draft(
        "Thank you for the log: your blood pressure is where we want it, so keep the same dose. "
        "We will look at it together at your visit.",
        appointment=Appointment.objects.filter(patient=cast.jamie.patient, source_id="demo:jamie:1").first(),
    )
    clock.at(clock.ago(1, 16, 30), _reply(cast.staff(cast.clinician, thread), thread, answer), read=False)
    settle(thread)
    return 1


def _readings_log() -> CheckedFile:
    """A picture of a week's blood pressure readings, checked as any upload is."""
    image = Image.new("RGB", (420, 250), (252, 250, 240))
    draw = ImageDraw.Draw(image)
    draw.text((20, 15), "Blood pressure log", fill=(20, 20, 60))
    readings = ("128/82", "126/80", "131/84", "124/79", "127/81", "122/78", "125/80")
    for row, reading in enumerate(readings):
        y = 50 + row * 26
        draw.line((20, y - 4, 400, y - 4), fill=(180, 190, 210))
        draw.text((20, y), f"Day {row + 1}", fill=(40, 40, 40))
        draw.text((140, y), f"morning {reading}", fill=(40, 40, 40))
        draw.text((280, y), "evening 121/77", fill=(40, 40, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    upload = SimpleUploadedFile("blood-pressure-log.png", out.getvalue(), content_type="image/png")
    return check_image(upload, settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES)


CHOLESTEROL = "Question about my cholesterol result"


def _cholesterol(cast: Cast, clock: Clock) -> int:
    """Waiting for the care team since yesterday morning, about Jamie's latest lipid panel."""
    if _exists(cast.jamie, CHOLESTEROL):
        return 0
    panel = (
        visible_reports(cast.jamie)
        .filter(name__icontains="lipid", available_at__lte=clock.now)
        .order_by("-effective_at", "-pk")
        .first()
    )
    question = Draft(
        "My LDL cholesterol is a little lower than last year but still flagged. Should I change "
        "anything, or keep going with the diet and tablets?",
        result=panel,
    )
    start = _start(cast.jamie, Topic.RESULT, CHOLESTEROL, question, cast.family)
    settle(clock.at(clock.ago(1, 8, 20), start, read=False))
    return 1


TRAVEL_LETTER = "Letter for travelling with my medicines"


def _travel_letter(cast: Cast, clock: Clock) -> int:
    """Answered and closed last month."""
    if _exists(cast.jamie, TRAVEL_LETTER):
        return 0
    question = Draft(
        "I am flying to see family next month. Could I have a letter listing my medicines for "
        "airport security?"
    )
    thread = clock.at(
        clock.ago(36, 9, 5), _start(cast.jamie, Topic.OTHER, TRAVEL_LETTER, question, cast.family)
    )
    nurse = cast.staff(cast.nurse, thread)
    answer = Draft(
        "Of course. Dr. Raman has signed a letter listing your medicines; you can collect it from the "
        "front desk, or we can post it to you."
    )
    clock.at(clock.ago(35, 11, 40), _reply(nurse, thread, answer))
    clock.at(
        clock.ago(35, 13, 0), _reply(cast.jamie, thread, Draft("I will collect it on Friday. Thank you!"))
    )
    do_set_thread_status(Actor.system(), nurse, thread, Thread.Status.CLOSED)
    settle(thread)
    return 1


STATEMENT = "Question about my statement"


def _statement(cast: Cast, clock: Clock) -> int:
    """A billing question the billing office has not answered: past its response time."""
    if _exists(cast.jamie, STATEMENT):
        return 0
    question = Draft(
        "My statement shows $85 for the knee X-ray, but my insurance told me it was covered in full. "
        "Could you check whether it was sent to them?"
    )
    settle(
        clock.at(
            clock.ago(4, 12, 30), _start(cast.jamie, Topic.BILLING, STATEMENT, question, None), read=False
        )
    )
    return 1


# Jamie's refill and referrals -----------------------------------------------------------------


def _refill(cast: Cast, clock: Clock) -> int:
    """A pharmacy saved and a refill asked for two weeks ago, approved the next morning."""
    patient = cast.jamie.patient
    if RefillRequest.objects.filter(patient=patient, notes=REFILL_NOTES).exists():
        return 0
    asked, approved = clock.ago(16, 18, 10), clock.ago(15, 9, 30)
    pharmacy = Pharmacy.objects.filter(patient=patient, name=PHARMACY[0]).first()
    if pharmacy is None:
        name, address, phone = PHARMACY
        pharmacy = do_save_pharmacy(Actor.system(), cast.jamie, name=name, address=address, phone=phone)
        Pharmacy.objects.filter(pk=pharmacy.pk).update(created_at=asked)
    medication = _refillable(cast.jamie)
    if medication is None or pharmacy.removed_at is not None:
        return 0
    chosen = pharmacy
    refill = clock.at(
        asked,
        lambda: do_request_refill(
            Actor.system(), cast.jamie, medication_ids=[medication.pk], pharmacy=chosen, notes=REFILL_NOTES
        ),
    )
    thread = refill.thread
    if thread is None:
        raise RuntimeError("A refill request was made without its conversation.")
    staff = cast.staff(cast.clinician, thread)
    clock.at(approved, lambda: do_approve_refill(Actor.system(), staff, refill))
    RefillRequest.objects.filter(pk=refill.pk).update(created_at=asked, decided_at=approved)
    settle(thread)
    return 1


def _refillable(access: PatientAccess) -> Medication | None:
    """The patient's first active medication that may be refilled online and is not waiting for one."""
    waiting = RefillRequest.objects.filter(patient=access.patient, status__in=RefillRequest.OPEN_STATUSES)
    return (
        visible(Medication, access)
        .filter(status=Medication.Status.ACTIVE, renewable_online=True)
        .exclude(refill_items__request__in=waiting)
        .order_by("name", "pk")
        .first()
    )


def _referral(
    cast: Cast, clock: Clock, slug: str, reason: str, asked: dt.datetime, *, read: bool
) -> Referral | None:
    """Jamie asks the family medicine team for a referral to the specialty, at their own campus if it offers it."""
    specialty = Department.objects.filter(slug=slug).first()
    patient = cast.jamie.patient
    if specialty is None or Referral.objects.filter(patient=patient, specialty=specialty).exists():
        return None
    at_home = specialty.campuses.filter(pk=patient.primary_campus_id).exists()
    campus = patient.primary_campus if at_home else None
    referral = clock.at(
        asked,
        lambda: do_request_referral(
            Actor.system(), cast.jamie, specialty=specialty, reason=reason, care_team=cast.family,
            preferred_campus=campus,
        ),
        read=read,
    )  # fmt: skip
    Referral.objects.filter(pk=referral.pk).update(created_at=asked, updated_at=asked)
    return referral


def _dermatology(cast: Cast, clock: Clock) -> int:
    """Approved three weeks ago and still valid: booking the visit comes next."""
    reason = "A mole on my left forearm has changed shape and sometimes itches."
    referral = _referral(cast, clock, "dermatology", reason, clock.ago(24, 21, 0), read=True)
    if referral is None or referral.thread is None:
        return 0
    thread, approved = referral.thread, clock.ago(23, 10, 45)
    staff = cast.staff(cast.clinician, thread)
    note = "Dermatology will want to look at it soon: please book in the next few weeks."
    clock.at(approved, lambda: do_approve_referral(Actor.system(), staff, referral, note))
    valid_until = approved.date() + dt.timedelta(days=settings.PORTAL_REFERRAL_VALID_DAYS)
    Referral.objects.filter(pk=referral.pk).update(
        decided_at=approved, updated_at=approved, valid_until=valid_until
    )
    settle(thread)
    return 1


def _orthopedics(cast: Cast, clock: Clock) -> int:
    """Asked for two days ago; the care team has not decided yet."""
    reason = "My knee still hurts after three months of exercises, and the MRI showed worn cartilage."
    referral = _referral(cast, clock, "orthopedics", reason, clock.ago(2, 7, 50), read=False)
    if referral is None or referral.thread is None:
        return 0
    settle(referral.thread)
    return 1


# demo-parent's family -------------------------------------------------------------------------

MIA_INHALER = "Mia's inhaler before football practice"


def _mia_inhaler(cast: Cast, clock: Clock) -> int:
    """Written by demo-parent for Mia, answered by Dr. Raman and read."""
    if _exists(cast.mia, MIA_INHALER):
        return 0
    question = Draft(
        "Mia starts football practice next week. Should she use her blue inhaler before each practice, "
        "or only when she is wheezy?"
    )
    thread = clock.at(
        clock.ago(10, 20, 15), _start(cast.mia, Topic.MEDICAL, MIA_INHALER, question, cast.family)
    )
    answer = Draft(
        "Two puffs of the blue inhaler 15 minutes before practice is a good idea for Mia. Bring her in "
        "if she needs it more than twice a week outside sport."
    )
    clock.at(clock.ago(9, 9, 10), _reply(cast.staff(cast.clinician, thread), thread, answer))
    settle(thread)
    return 1


WALTER_VISIT = "Moving Walter's cardiology visit to a morning"


def _walter_visit(cast: Cast, clock: Clock) -> int:
    """A question for the Rochester scheduling desk, not answered yet."""
    if _exists(cast.walter, WALTER_VISIT):
        return 0
    question = Draft(
        "Walter finds afternoons tiring. Is there a morning time for his cardiology follow-up, on any "
        "day that week?"
    )
    start = _start(cast.walter, Topic.APPOINTMENT, WALTER_VISIT, question, None)
    settle(clock.at(clock.ago(0.4, 8, 5), start, read=False))
    return 1
