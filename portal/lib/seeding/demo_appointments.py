"""Appointments for the demo: the sign-ins' hand-made visits, and a busy clinic for everyone else.

demo-patient (Jamie) has one of every state the appointments pages show: a visit
tomorrow (too soon to cancel online, so the page gives the desk's phone number), an
annual physical in three days with its pre-check-in open (questionnaires and consents to
fill in), a video follow-up, a visit in five weeks on the waitlist for an earlier time,
past visits (completed, missed, cancelled), a request to Jacksonville's cardiologists
with two times offered, and a request waiting at Phoenix. demo-parent's family has
Mia's well-child visit at the Children's Center and Walter's cardiology follow-up.

Like all seeding these are loaded directly, not through the booking actions: nobody did
them, so they write no audit events. Future visits still claim their slot with
`booking.claim_slot`, the same guard every booking passes, and queue their reminders.
Each appointment is keyed by its `source_id` ("demo:jamie:1"): a re-run adds only what is
missing and leaves alone what the demo user has since done (cancelled, moved).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.accounts.models import User
from portal.lib.seeding import GENERATED_CLINIC_NUMBERS
from portal.lib.seeding.bulk import insert_rows, new
from portal.lib.seeding.demo_users import (
    CARDIOLOGY_TEAM,
    DEMO_CHILD_NUMBER,
    DEMO_DEPENDENT_NUMBER,
    DEMO_PATIENT_NUMBER,
    FAMILY_TEAM,
    PEDIATRICS_TEAM,
)
from portal.lib.seeding.schedules import team_place
from portal.organization.models import Campus, CareTeam, Department, Practitioner
from portal.patients.models import CareRelationship, Patient
from portal.scheduling.booking import appointment_in, claim_slot
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ScheduleTemplate,
    Slot,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.scheduling.reminders import queue_reminders
from portal.scheduling.slots import generate_slots, overlaps

Status = Appointment.Status
Via = Appointment.Via
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
# Candidate times for an extra session, when a clinician's week has none near the moment wanted.
EXTRA_SESSION_TIMES = [dt.time(hour, minute) for hour in range(8, 16) for minute in (0, 30)]
GENERATED_PREFIX = "gen:"
# The share of generated patients with a visit coming up (the rest have only past ones).
GENERATED_BOOKED_SHARE = 0.3
JACKSONVILLE_REASON = "Second opinion on my heart rhythm before a planned procedure."
SPREAD = dt.timedelta(days=21).total_seconds()
PHOENIX_REASON = "A skin check for a mole that has changed shape, while I am in Arizona in the winter."


@dataclass(frozen=True)
class Place:
    """Where a visit happens: a team's campus and department, and who in it to prefer."""

    team: CareTeam
    preferred: Practitioner | None

    @property
    def campus(self) -> Campus:
        return team_place(self.team)[0]

    @property
    def department(self) -> Department:
        return team_place(self.team)[1]

    def clinicians(self) -> list[Practitioner]:
        members = [member for member in self.team.members.order_by("pk") if member.is_clinical]
        if self.preferred in members:
            members.remove(self.preferred)
            members.insert(0, self.preferred)
        return members


def seed_demo_appointments(now: dt.datetime | None = None) -> int:
    """Give the demo sign-ins' patients their visits; returns how many appointments were added.

    The schedules must already exist (`schedules.seed_schedules`).
    """
    now = now or timezone.now()
    patients = {p.clinic_number: p for p in Patient.objects.filter(clinic_number__in=_DEMO_NUMBERS)}
    if len(patients) < len(_DEMO_NUMBERS):
        return 0
    teams = {team.slug: team for team in CareTeam.objects.select_related("campus", "department")}
    with transaction.atomic():
        added = _jamie(patients[DEMO_PATIENT_NUMBER], teams, now)
        added += _mia(patients[DEMO_CHILD_NUMBER], teams, now)
        added += _walter(patients[DEMO_DEPENDENT_NUMBER], teams, now)
    return added


_DEMO_NUMBERS = (DEMO_PATIENT_NUMBER, DEMO_CHILD_NUMBER, DEMO_DEPENDENT_NUMBER)


def _carer(patient: Patient, team: CareTeam) -> Practitioner | None:
    relationship = CareRelationship.objects.filter(patient=patient, care_team=team).first()
    return relationship.practitioner if relationship else None


def _visit_type(key: str, team: CareTeam) -> VisitType:
    return VisitType.objects.get(slug=f"{key}-{team_place(team)[1].slug}")


def _jamie(patient: Patient, teams: dict[str, CareTeam], now: dt.datetime) -> int:
    family, cardiology = teams[FAMILY_TEAM], teams[CARDIOLOGY_TEAM]
    at_family = Place(family, _carer(patient, family))
    at_cardiology = Place(cardiology, _carer(patient, cardiology))
    user = patient.account
    follow_up, physical = _visit_type("follow-up", family), _visit_type("annual-physical", family)
    upcoming = [
        # Inside the self-service cutoff: only the desk can change it.
        ("demo:jamie:1", at_family, follow_up, now + 20 * HOUR, (now + 3 * HOUR, now + 23 * HOUR),
         "Blood pressure check after the change of dose."),
        ("demo:jamie:2", at_family, physical, now + 3 * DAY, (now + 2 * DAY, now + 5 * DAY),
         "Yearly check-up."),
        ("demo:jamie:3", at_family, _visit_type("video-follow-up", family), now + 10 * DAY,
         (now + 8 * DAY, now + 12 * DAY), "Knee pain: how the exercises are going."),
        ("demo:jamie:4", at_cardiology, _visit_type("follow-up", cardiology), now + 35 * DAY,
         (now + 32 * DAY, now + 38 * DAY), "Cholesterol and blood pressure review."),
    ]  # fmt: skip
    added = 0
    for key, place, visit_type, target, window, reason in upcoming:
        appointment, created = _book(key, patient, place, visit_type, target, window, reason, user)
        added += created
        if key == "demo:jamie:4" and created:
            WaitlistEntry.objects.create(
                patient=patient, appointment=appointment, any_clinician=True, created_by=user
            )
    past = [
        ("demo:jamie:p1", at_family, follow_up, 40, Status.FULFILLED, "Blood pressure review."),
        ("demo:jamie:p2", at_cardiology, _visit_type("follow-up", cardiology), 75, Status.CANCELLED,
         "Palpitations."),
        ("demo:jamie:p3", at_family, follow_up, 130, Status.NOSHOW, "Knee pain."),
        ("demo:jamie:p4", at_cardiology, _visit_type("new-consult", cardiology), 160, Status.FULFILLED,
         "High blood pressure and cholesterol."),
        ("demo:jamie:p5", at_family, physical, 340, Status.FULFILLED, "Yearly check-up."),
    ]  # fmt: skip
    for key, place, visit_type, days_ago, status, reason in past:
        added += _past(key, patient, place, visit_type, now - days_ago * DAY, status, reason, user)
    _jacksonville_request(patient, teams["jacksonville-cardiology"], user, now)
    _phoenix_request(patient, teams["phoenix-dermatology"], user)
    return added


def _mia(patient: Patient, teams: dict[str, CareTeam], now: dt.datetime) -> int:
    pediatrics = teams[PEDIATRICS_TEAM]
    parent = User.objects.filter(username="demo-parent").first()
    _appointment, created = _book(
        "demo:mia:1", patient, Place(pediatrics, _carer(patient, pediatrics)),
        _visit_type("well-child", pediatrics), now + 14 * DAY, (now + 11 * DAY, now + 17 * DAY),
        "Yearly check-up and school vaccines.", parent,
    )  # fmt: skip
    return int(created)


def _walter(patient: Patient, teams: dict[str, CareTeam], now: dt.datetime) -> int:
    cardiology = teams[CARDIOLOGY_TEAM]
    _appointment, created = _book(
        "demo:walter:1", patient, Place(cardiology, _carer(patient, cardiology)),
        _visit_type("follow-up", cardiology), now + 12 * DAY, (now + 9 * DAY, now + 15 * DAY),
        "Atrial fibrillation: review of the blood thinner.", None, via=Via.DESK,
    )  # fmt: skip
    return int(created)


def _book(
    key: str,
    patient: Patient,
    place: Place,
    visit_type: VisitType,
    target: dt.datetime,
    window: tuple[dt.datetime, dt.datetime],
    reason: str,
    booked_by: User | None,
    via: str = Via.SELF,
) -> tuple[Appointment, bool]:
    existing = Appointment.objects.filter(patient=patient, source_id=key).first()
    if existing is not None:
        return existing, False
    slot = find_slot(place, visit_type, target, window)
    if not claim_slot(slot.pk):
        raise RuntimeError(f"Seeding could not claim slot {slot.pk} for {key}")
    appointment = appointment_in(
        slot, patient, visit_type, via=via, reason=reason, booked_by=booked_by, source_id=key
    )
    appointment.save()
    queue_reminders(appointment)
    return appointment, True


def find_slot(
    place: Place, visit_type: VisitType, target: dt.datetime, window: tuple[dt.datetime, dt.datetime]
) -> Slot:
    """The open slot for the visit nearest `target` inside `window`, preferring the place's
    named clinician; failing that, a one-off extra session made for it."""
    clinicians = place.clinicians()
    candidates = list(
        Slot.objects.filter(
            practitioner__in=clinicians,
            campus=place.campus,
            department=place.department,
            status=Slot.Status.OPEN,
            held_until__isnull=True,
            starts_at__gte=window[0],
            starts_at__lte=window[1],
            template__visit_types=visit_type,
        )
    )
    rank = {practitioner.pk: position for position, practitioner in enumerate(clinicians)}
    fitting = [slot for slot in candidates if slot.minutes >= visit_type.duration_minutes]
    if fitting:
        return min(fitting, key=lambda slot: (rank[slot.practitioner_id], abs(slot.starts_at - target)))
    return _extra_session(place, clinicians[0], visit_type, target, window)


def _extra_session(
    place: Place, practitioner: Practitioner, visit_type: VisitType, target: dt.datetime,
    window: tuple[dt.datetime, dt.datetime],
) -> Slot:  # fmt: skip
    """A one-off session (a template whose two dates are the same day) holding one slot."""
    zone = place.campus.zone
    length = dt.timedelta(minutes=visit_type.duration_minutes)
    taken = list(
        Slot.objects.filter(
            practitioner=practitioner, starts_at__lt=window[1] + length, ends_at__gt=window[0]
        ).values_list("starts_at", "ends_at")
    )
    first, last = window[0].astimezone(zone).date(), window[1].astimezone(zone).date()
    days = [first + offset * DAY for offset in range((last - first).days + 1)]
    moments = [dt.datetime.combine(day, time, tzinfo=zone) for day in days for time in EXTRA_SESSION_TIMES]
    free = [
        moment
        for moment in moments
        if window[0] <= moment <= window[1] and not overlaps((moment, moment + length), taken)
    ]
    if not free:
        raise RuntimeError(f"No time for {visit_type} between {window[0]} and {window[1]}")
    # A weekday if there is one: extra sessions on a weekend only when nothing else is near.
    starts_at = min(free, key=lambda moment: (moment.weekday() >= 5, abs(moment - target)))
    template = ScheduleTemplate.objects.create(
        practitioner=practitioner,
        campus=place.campus,
        department=place.department,
        weekday=starts_at.weekday(),
        starts=starts_at.time(),
        ends=(starts_at + length).time(),
        slot_minutes=visit_type.duration_minutes,
        valid_from=starts_at.date(),
        valid_until=starts_at.date(),
    )
    template.visit_types.add(visit_type)
    generate_slots([template], start=starts_at.date(), days=1)
    return Slot.objects.get(template=template)


def _past(
    key: str,
    patient: Patient,
    place: Place,
    visit_type: VisitType,
    around: dt.datetime,
    status: str,
    reason: str,
    user: User | None,
) -> int:
    if Appointment.objects.filter(patient=patient, source_id=key).exists():
        return 0
    day = around.astimezone(place.campus.zone).date()
    while day.weekday() >= 5:  # clinics see these visits on weekdays
        day -= DAY
    starts_at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=place.campus.zone)
    clinicians = place.clinicians()
    cancelled = status == Status.CANCELLED
    Appointment.objects.create(
        patient=patient,
        visit_type=visit_type,
        practitioner=clinicians[0],
        campus=place.campus,
        department=place.department,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
        mode=visit_type.mode,
        status=status,
        reason=reason,
        booked_via=Via.SELF,
        booked_by=user,
        arrived_at=starts_at - dt.timedelta(minutes=10) if status == Status.FULFILLED else None,
        cancelled_at=starts_at - 3 * DAY if cancelled else None,
        cancelled_by=user if cancelled else None,
        cancel_reason="I have to travel for work that week." if cancelled else "",
        source_id=key,
    )
    return 1


def _jacksonville_request(patient: Patient, team: CareTeam, user: User | None, now: dt.datetime) -> None:
    """A request the Jacksonville desk answered with two times to choose from."""
    consult = _visit_type("new-consult", team)
    request, created = AppointmentRequest.objects.get_or_create(
        patient=patient,
        campus=team_place(team)[0],
        reason=JACKSONVILLE_REASON,
        defaults={
            "department_id": team.department_id,
            "visit_type": consult,
            "earliest_date": (now + 7 * DAY).date(),
            "time_of_day": AppointmentRequest.TimeOfDay.MORNING,
            "referred_by": "Dr. Priya Raman, Family Medicine, Rochester",
            "status": AppointmentRequest.Status.OFFERED,
            "desk_reply": "Our cardiologists can see you at either of these times. Choose the one that suits you.",
            "handled_at": now - 2 * HOUR,
            "created_by": user,
        },
    )
    if not created:
        return
    slots = _open_slots(team, consult, now + 7 * DAY)[:2]
    expires_at = now + dt.timedelta(days=settings.PORTAL_REQUEST_OFFER_DAYS)
    SlotOffer.objects.bulk_create(
        SlotOffer(
            patient=patient,
            slot=slot,
            visit_type=consult,
            kind=SlotOffer.Kind.REQUEST,
            request=request,
            expires_at=expires_at,
        )
        for slot in slots
    )


def _open_slots(team: CareTeam, visit_type: VisitType, after: dt.datetime) -> QuerySet[Slot]:
    campus, department = team_place(team)
    return Slot.objects.filter(
        campus=campus,
        department=department,
        status=Slot.Status.OPEN,
        starts_at__gte=after,
        template__visit_types=visit_type,
    ).order_by("starts_at", "id")


def _phoenix_request(patient: Patient, team: CareTeam, user: User | None) -> None:
    """A request still waiting for the Phoenix desk."""
    AppointmentRequest.objects.get_or_create(
        patient=patient,
        campus=team_place(team)[0],
        reason=PHOENIX_REASON,
        defaults={
            "department_id": team.department_id,
            "visit_type": _visit_type("new-consult", team),
            "time_of_day": AppointmentRequest.TimeOfDay.ANY,
            "availability_notes": "Any weekday except Wednesdays.",
            "created_by": user,
        },
    )


# The generated patients: a clinic whose near weeks are filling up.


@dataclass
class GeneratedReport:
    """What `seed_generated_appointments` added."""

    upcoming: int = 0
    past: int = 0


def seed_generated_appointments(share: float, seed: int, now: dt.datetime) -> GeneratedReport:
    """Book an upcoming visit for `share` of the generated patients with one of their care
    teams, and give each of them a few past visits; bulk inserted. Runs once: a database
    that already has generated appointments is left as it is."""
    if Appointment.objects.filter(source_id__startswith=GENERATED_PREFIX).exists():
        return GeneratedReport()
    rng = random.Random(f"appointments/{seed}")  # nosec B311  # seeded demo data, not security
    care = _care_by_patient()
    chosen = [patient_id for patient_id in sorted(care) if rng.random() < share]
    follow_ups = {
        vt.department_id: vt for vt in VisitType.objects.filter(slug__startswith="follow-up-", active=True)
    }
    pool = _slot_pool(now, rng)
    allowed = _allowed_types()
    zones = {campus.pk: campus.zone for campus in Campus.objects.all()}
    upcoming: list[Appointment] = []
    past: list[Appointment] = []
    for patient_id in chosen:
        campus_id, department_id, clinicians = rng.choice(care[patient_id])
        follow_up = follow_ups.get(department_id)
        if follow_up is None or not clinicians:
            continue
        slots = pool.get((campus_id, department_id))
        if slots:
            slot = slots.pop()
            visit_type = follow_up if follow_up.pk in allowed[slot.template_id] else None
            if visit_type is not None:
                upcoming.append(_generated(patient_id, visit_type, slot, f"{GENERATED_PREFIX}{patient_id}:1"))
        for number in range(rng.randint(1, 3)):
            past.append(
                _generated_past(
                    patient_id,
                    follow_up,
                    (campus_id, zones[campus_id]),
                    rng.choice(clinicians),
                    rng,
                    now,
                    number,
                )
            )
    with transaction.atomic():
        insert_rows(Appointment, upcoming + past)
        booked = [appointment.slot_id for appointment in upcoming]
        for start in range(0, len(booked), 2000):
            Slot.objects.filter(pk__in=booked[start : start + 2000]).update(status=Slot.Status.BOOKED)
    return GeneratedReport(len(upcoming), len(past))


def _care_by_patient() -> dict[int, list[tuple[int, int, list[int]]]]:
    """Each generated patient's care teams as (campus, department, clinician ids)."""
    members: dict[int, list[int]] = defaultdict(list)
    for team_id, practitioner_id in CareTeam.members.through.objects.filter(
        practitioner__role__in=Practitioner.CLINICAL_ROLES
    ).values_list("careteam_id", "practitioner_id"):
        members[team_id].append(practitioner_id)
    care: dict[int, list[tuple[int, int, list[int]]]] = defaultdict(list)
    rows = CareRelationship.objects.filter(
        patient__clinic_number__gte=str(GENERATED_CLINIC_NUMBERS.start),
        care_team__campus__isnull=False,
        care_team__department__isnull=False,
    ).values_list("patient_id", "care_team_id", "care_team__campus_id", "care_team__department_id")
    for patient_id, team_id, campus_id, department_id in rows:
        care[patient_id].append((campus_id, department_id, sorted(members[team_id])))
    return care


@dataclass(frozen=True)
class OpenSlot:
    """The little of an open slot that booking it in bulk needs."""

    pk: int
    template_id: int
    practitioner_id: int
    campus_id: int
    department_id: int
    starts_at: dt.datetime


def _slot_pool(now: dt.datetime, rng: random.Random) -> dict[tuple[int, int], list[OpenSlot]]:
    """Open slots from tomorrow by (campus, department), in the order patients take them:
    mostly the nearest first, as a real clinic fills its near weeks, some further out."""
    pool: dict[tuple[int, int], list[OpenSlot]] = defaultdict(list)
    rows = Slot.objects.filter(status=Slot.Status.OPEN, starts_at__gt=now + DAY).values_list(
        "pk", "template_id", "practitioner_id", "campus_id", "department_id", "starts_at"
    )
    for row in rows.order_by("starts_at", "pk").iterator(chunk_size=5000):
        slot = OpenSlot(*row)
        pool[(slot.campus_id, slot.department_id)].append(slot)
    for slots_here in pool.values():
        # Reversed, so pop() takes the next one.
        slots_here.sort(key=lambda slot: slot.starts_at.timestamp() + rng.uniform(0, SPREAD), reverse=True)
    return pool


def _allowed_types() -> dict[int, set[int]]:
    allowed: dict[int, set[int]] = defaultdict(set)
    through = ScheduleTemplate.visit_types.through
    for template_id, visit_type_id in through.objects.values_list("scheduletemplate_id", "visittype_id"):
        allowed[template_id].add(visit_type_id)
    return allowed


def _generated(patient_id: int, visit_type: VisitType, slot: OpenSlot, key: str) -> Appointment:
    return new(
        Appointment,
        patient_id=patient_id,
        visit_type_id=visit_type.pk,
        practitioner_id=slot.practitioner_id,
        campus_id=slot.campus_id,
        department_id=slot.department_id,
        slot_id=slot.pk,
        starts_at=slot.starts_at,
        ends_at=slot.starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
        mode=visit_type.mode,
        source_id=key,
    )


PAST_STATUSES = (Status.FULFILLED,) * 17 + (Status.NOSHOW, Status.CANCELLED, Status.CANCELLED)


def _generated_past(
    patient_id: int,
    visit_type: VisitType,
    campus: tuple[int, ZoneInfo],
    practitioner_id: int,
    rng: random.Random,
    now: dt.datetime,
    number: int,
) -> Appointment:
    campus_id, zone = campus
    day = (now - dt.timedelta(days=rng.randint(7, 400))).astimezone(zone).date()
    starts_at = dt.datetime.combine(day, dt.time(rng.randint(8, 15), rng.choice((0, 30))), tzinfo=zone)
    status = rng.choice(PAST_STATUSES)
    return new(
        Appointment,
        patient_id=patient_id,
        visit_type_id=visit_type.pk,
        practitioner_id=practitioner_id,
        campus_id=campus_id,
        department_id=visit_type.department_id,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
        status=status,
        arrived_at=starts_at - dt.timedelta(minutes=8) if status == Status.FULFILLED else None,
        cancelled_at=starts_at - 2 * DAY if status == Status.CANCELLED else None,
        source_id=f"{GENERATED_PREFIX}{patient_id}:p{number}",
    )
