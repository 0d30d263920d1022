"""The demo organisation's appointment catalogue and its clinicians' weekly schedules.

Every clinical department offers follow-ups (in person and by video, for patients it
already sees) and new-patient consultations through the scheduling desk; primary care
adds physicals and flu vaccines, the Children's Center well-child visits, and the
laboratory and radiology their own visits. Questionnaires are shaped like FHIR R4
Questionnaires (see `scheduling.models.catalog`).

Every clinician of a clinical team gets weekly sessions at that team's campus and
department. A clinician in several teams (Rochester's physicians visit London and the
Children's Center) works at home most of the week and one weekday at each other
campus, so no two of their sessions overlap. Sessions vary by clinician: earlier or
later starts, a physician's afternoon of admin time, one morning of hour-long slots for
consultations and physicals, nurses' 15-minute slots for vaccines and blood draws.

Loading is idempotent and only adds: visit types, questionnaires and consent forms are
matched by slug and refreshed in place; a clinician who already has any schedule keeps
it untouched, so what an administrator set up survives a re-run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.lib.seeding.bulk import insert_rows, new
from portal.lib.seeding.organization import CAMPUSES, SERVICE_DEPARTMENTS
from portal.organization.models import Campus, CareTeam, Department, Practitioner
from portal.scheduling.models import (
    ConsentForm,
    Mode,
    Questionnaire,
    ScheduleBlock,
    ScheduleTemplate,
    Slot,
    VisitType,
)
from portal.scheduling.slots import Interval, overlaps, session_intervals

Role = Practitioner.Role
CAMPUS_ORDER = [spec.slug for spec in CAMPUSES]
WEEKDAYS = (0, 1, 2, 3, 4)  # Monday to Friday
FRIDAY = 4
# Phoenix starts an hour earlier, as its campus does (see organization.py).
EARLY_CAMPUSES = ("phoenix",)
PRIMARY_CARE = ("family-medicine", "internal-medicine")
FLU_VACCINE = "flu-vaccine"
FLU_DEPARTMENTS = ("family-medicine", "pediatrics")
FALLS_RISK_DEPARTMENTS = ("internal-medicine", "neurology", "orthopedics")

BEFORE_YOUR_VISIT = "before-your-visit"
PHQ_2 = "phq-2"
FALLS_RISK = "falls-risk"
TREATMENT = "consent-to-treatment"
TELEHEALTH = "telehealth-consent"
FINANCIAL = "financial-responsibility"


def _choice(link_id: str, text: str, options: Iterable[str], required: bool = True) -> dict[str, Any]:
    return {
        "linkId": link_id,
        "text": text,
        "type": "choice",
        "required": required,
        "answerOption": [{"valueString": option} for option in options],
    }


def _question(link_id: str, text: str, kind: str, required: bool = False) -> dict[str, Any]:
    return {"linkId": link_id, "text": text, "type": kind, "required": required}


PHQ_OPTIONS = ("Not at all", "Several days", "More than half the days", "Nearly every day")

QUESTIONNAIRES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    BEFORE_YOUR_VISIT: (
        "Before your visit",
        "A few questions so your clinician can make the most of your time together.",
        [
            _question("reason", "What would you like to talk about at this visit?", "text", required=True),
            _question("symptoms", "Describe any symptoms you have now, and since when.", "text"),
            _question("smoking", "Do you smoke or use tobacco?", "boolean", required=True),
            _choice(
                "pain", "How bad is any pain you have today? (0 = none, 10 = worst)", map(str, range(11))
            ),
            _question("last-visit", "When did you last see a doctor about this?", "date"),
        ],
    ),
    PHQ_2: (
        "Depression screening (PHQ-2)",
        "Over the last 2 weeks, how often have you been bothered by the following problems?",
        [
            _choice("phq2-interest", "Little interest or pleasure in doing things", PHQ_OPTIONS),
            _choice("phq2-mood", "Feeling down, depressed, or hopeless", PHQ_OPTIONS),
        ],
    ),
    FALLS_RISK: (
        "Falls risk",
        "Falls are common and often preventable. These questions help us find out if you are at risk.",
        [
            _question("fallen", "Have you fallen in the past year?", "boolean", required=True),
            _question("unsteady", "Do you feel unsteady when standing or walking?", "boolean", required=True),
            _question("worried", "Do you worry about falling?", "boolean", required=True),
            _choice("aid", "Do you use a walking aid?", ("No", "A cane", "A walker", "A wheelchair")),
        ],
    ),
}

CONSENTS: dict[str, tuple[str, str]] = {
    TREATMENT: (
        "Consent to treatment",
        "I agree to receive examination, tests and treatment from the clinic's clinicians. "
        "Each test or treatment will be explained to me, and I may ask questions or refuse "
        "any of them at any time.",
    ),
    TELEHEALTH: (
        "Telehealth consent",
        "I agree to a visit by secure video. I understand that a video visit cannot include "
        "a physical examination, that my clinician may ask me to come in person instead, and "
        "that I should be somewhere private for the call.",
    ),
    FINANCIAL: (
        "Financial responsibility",
        "I understand that I am responsible for any charges my insurance does not cover, "
        "including copays, deductibles and services my plan excludes. The billing office "
        "can give me an estimate before my visit.",
    ),
}


@dataclass(frozen=True)
class VisitSpec:
    """One visit type as the demo describes it, before it is tied to a department."""

    key: str
    name: str
    minutes: int
    description: str
    preparation: str = ""
    self_schedulable: bool = False
    established_only: bool = False
    mode: str = Mode.IN_PERSON
    questionnaires: tuple[str, ...] = ()
    consents: tuple[str, ...] = ()


BRING = "Bring your photo ID, your insurance card and a list of the medicines you take."

FLU = VisitSpec(
    FLU_VACCINE, "Flu vaccine", 15,
    "A seasonal flu shot with a nurse, for anyone six months or older.",
    "Wear a top that leaves your upper arm easy to reach. Tell the nurse about any allergies "
    "or a reaction to a vaccine before.",
    self_schedulable=True,
)  # fmt: skip


def clinical_visits(department_slug: str) -> list[VisitSpec]:
    """What every clinical department offers, plus its own special visits."""
    follow_up_forms = (BEFORE_YOUR_VISIT, PHQ_2) if department_slug in PRIMARY_CARE else (BEFORE_YOUR_VISIT,)
    consult_forms = (
        (BEFORE_YOUR_VISIT, FALLS_RISK) if department_slug in FALLS_RISK_DEPARTMENTS else (BEFORE_YOUR_VISIT,)
    )
    visits = [
        VisitSpec(
            "follow-up", "Follow-up visit", 30,
            "A visit with your clinician about care you are already having.", BRING,
            self_schedulable=True, established_only=True, questionnaires=follow_up_forms,
        ),
        VisitSpec(
            "video-follow-up", "Video follow-up", 30,
            "A follow-up by secure video from home, for a problem that needs no examination.",
            "Find a quiet, private place with a good connection. Open the visit from the "
            "appointment page up to 15 minutes before it starts.",
            self_schedulable=True, established_only=True, mode=Mode.VIDEO,
            questionnaires=(BEFORE_YOUR_VISIT,), consents=(TELEHEALTH,),
        ),
        VisitSpec(
            "new-consult", "New patient consultation", 60,
            "A first, longer visit with a specialist. Ask the scheduling desk; a referral may be needed.",
            f"{BRING} Bring letters, results and images from other clinics if you have them.",
            questionnaires=consult_forms, consents=(TREATMENT, FINANCIAL),
        ),
    ]  # fmt: skip
    if department_slug in PRIMARY_CARE:
        visits.append(
            VisitSpec(
                "annual-physical", "Annual physical", 60,
                "A yearly check-up: an examination, screening tests and a review of your health.",
                "Do not eat or drink anything but water for 8 hours before, for your blood tests. "
                f"Take your usual medicines unless told otherwise. {BRING}",
                self_schedulable=True, questionnaires=(BEFORE_YOUR_VISIT, PHQ_2, FALLS_RISK),
                consents=(TREATMENT, FINANCIAL),
            )
        )  # fmt: skip
    if department_slug == "pediatrics":
        visits.append(
            VisitSpec(
                "well-child", "Well-child visit", 30,
                "A check of your child's growth and development, with any vaccines due.",
                "Bring your child's vaccination record and any forms for school or sports.",
                self_schedulable=True, questionnaires=(BEFORE_YOUR_VISIT,), consents=(TREATMENT,),
            )
        )  # fmt: skip
    return visits


SERVICE_VISITS: dict[str, list[VisitSpec]] = {
    "laboratory-medicine": [
        VisitSpec(
            "blood-draw", "Blood draw", 15,
            "Blood tests your clinician has ordered.",
            "If your clinician asked for fasting tests, drink only water for 8 to 12 hours before.",
            self_schedulable=True,
        ),
    ],
    "radiology": [
        VisitSpec(
            "mammogram", "Screening mammogram", 30,
            "A yearly breast X-ray to screen for cancer.",
            "Do not use deodorant, powder or lotion under your arms or on your breasts that day.",
            self_schedulable=True, consents=(TREATMENT,),
        ),
        VisitSpec(
            "ct-scan", "CT scan", 30,
            "A CT scan your clinician has ordered; the scheduling desk books it.",
            "You may be asked not to eat for 4 hours before if the scan uses contrast.",
            consents=(TREATMENT,),
        ),
        VisitSpec(
            "mri-scan", "MRI scan", 60,
            "An MRI scan your clinician has ordered; the scheduling desk books it.",
            "Tell us about any metal in your body, a pacemaker or an implant. Leave jewellery at home.",
            consents=(TREATMENT,),
        ),
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Session:
    """One weekly session of one clinician, before it becomes a template."""

    team: CareTeam
    weekday: int
    starts: dt.time
    ends: dt.time
    slot_minutes: int


def seed_schedules(campuses: dict[str, Campus], today: dt.date) -> int:
    """Create the catalogue and every clinician's weekly schedule, then the slots for the
    booking horizon; return how many slots were created."""
    with transaction.atomic():
        seed_catalogue()
        templates = seed_templates(campuses, today)
        return insert_slots(templates, today, settings.PORTAL_SLOT_HORIZON_DAYS)


def insert_slots(templates: list[ScheduleTemplate], start: dt.date, days: int) -> int:
    """The slots `slots.generate_slots(templates, start=start, days=days)` would make, inserted
    in bulk; returns how many.

    The same intervals (`session_intervals`, so the app's daylight-saving rules) and the same
    rules: nothing in the past, nothing overlapping a slot the clinician already has,
    blocked where a block covers it. `generate_slots` saves through the ORM and compares
    each new slot with all the clinician's others, which for the demo's hundred thousand
    slots would add most of a minute to `portal demo`.
    """
    now = timezone.now()
    end = start + dt.timedelta(days=days)
    by_clinician: dict[int, list[ScheduleTemplate]] = defaultdict(list)
    for template in templates:
        by_clinician[template.practitioner_id].append(template)
    window = {
        "practitioner_id__in": list(by_clinician),
        "starts_at__lt": dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
        "ends_at__gt": dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
    }
    taken = _by_clinician_day(Slot.objects.filter(**window))
    blocks: defaultdict[int, list[Interval]] = defaultdict(list)
    for practitioner_id, *block in ScheduleBlock.objects.filter(**window).values_list(
        "practitioner_id", "starts_at", "ends_at"
    ):
        blocks[practitioner_id].append((block[0], block[1]))
    rows: list[Slot] = []
    for practitioner_id, clinician_templates in by_clinician.items():
        day = start
        while day < end:
            for template in clinician_templates:
                for interval in session_intervals(template, day):
                    if interval[0] <= now or overlaps(interval, _near(taken, practitioner_id, interval)):
                        continue
                    taken[(practitioner_id, interval[0].date())].append(interval)
                    blocked = overlaps(interval, blocks[practitioner_id])
                    rows.append(
                        new(
                            Slot,
                            template_id=template.pk,
                            practitioner_id=practitioner_id,
                            campus_id=template.campus_id,
                            department_id=template.department_id,
                            starts_at=interval[0],
                            ends_at=interval[1],
                            status=Slot.Status.BLOCKED if blocked else Slot.Status.OPEN,
                        )
                    )
            day += dt.timedelta(days=1)
    with transaction.atomic():  # one transaction, not one per row
        insert_rows(Slot, rows)
    return len(rows)


ClinicianDay = tuple[int, dt.date]


def _by_clinician_day(rows: QuerySet[Any]) -> defaultdict[ClinicianDay, list[Interval]]:
    """Intervals by clinician and UTC start date."""
    found: defaultdict[ClinicianDay, list[Interval]] = defaultdict(list)
    for practitioner_id, starts_at, ends_at in rows.values_list("practitioner_id", "starts_at", "ends_at"):
        found[(practitioner_id, starts_at.date())].append((starts_at, ends_at))
    return found


def _near(
    found: dict[ClinicianDay, list[Interval]], practitioner_id: int, interval: Interval
) -> list[Interval]:
    """The slots that could overlap the interval: those starting the day before, the same
    day or the day after (a slot lasts at most four hours)."""
    day = interval[0].date()
    return [
        other
        for offset in (-1, 0, 1)
        for other in found.get((practitioner_id, day + dt.timedelta(days=offset)), ())
    ]


def seed_catalogue() -> dict[str, list[VisitType]]:
    """Questionnaires, consent forms and visit types; visit types by department slug
    (flu vaccines, which no one department owns, under their own slug)."""
    questionnaires = {
        slug: Questionnaire.objects.update_or_create(
            slug=slug, defaults={"title": title, "description": description, "items": items}
        )[0]
        for slug, (title, description, items) in QUESTIONNAIRES.items()
    }
    consents = {
        slug: ConsentForm.objects.update_or_create(slug=slug, defaults={"title": title, "body": body})[0]
        for slug, (title, body) in CONSENTS.items()
    }
    catalogue: dict[str, list[VisitType]] = {
        FLU_VACCINE: [_upsert_visit(FLU, None, questionnaires, consents)]
    }
    for department in Department.objects.order_by("slug"):
        specs = SERVICE_VISITS.get(department.slug, [])
        if department.slug not in SERVICE_DEPARTMENTS:
            specs = clinical_visits(department.slug)
        catalogue[department.slug] = [
            _upsert_visit(spec, department, questionnaires, consents) for spec in specs
        ]
    return catalogue


def _upsert_visit(
    spec: VisitSpec,
    department: Department | None,
    questionnaires: dict[str, Questionnaire],
    consents: dict[str, ConsentForm],
) -> VisitType:
    slug = spec.key if department is None else f"{spec.key}-{department.slug}"
    visit_type, _created = VisitType.objects.update_or_create(
        slug=slug,
        defaults={
            "name": spec.name,
            "description": spec.description,
            "department": department,
            "duration_minutes": spec.minutes,
            "mode": spec.mode,
            "self_schedulable": spec.self_schedulable,
            "established_only": spec.established_only,
            "preparation": spec.preparation,
        },
    )
    # add, not set: forms an administrator attached since are kept.
    visit_type.questionnaires.add(*(questionnaires[key] for key in spec.questionnaires))
    visit_type.consent_forms.add(*(consents[key] for key in spec.consents))
    return visit_type


def clinical_teams(campuses: Iterable[Campus]) -> list[CareTeam]:
    return list(
        CareTeam.objects.filter(
            kind=CareTeam.Kind.CLINICAL, campus__in=list(campuses), department__isnull=False
        )
        .select_related("campus", "department")
        .prefetch_related("members")
        .order_by("slug")
    )


def seed_templates(campuses: dict[str, Campus], today: dt.date) -> list[ScheduleTemplate]:
    """Weekly templates for every clinician of a clinical team at `campuses` who has none yet."""
    catalogue = {
        slug: list(VisitType.objects.filter(department__slug=slug, active=True))
        for slug in Department.objects.values_list("slug", flat=True)
    }
    flu = list(VisitType.objects.filter(slug=FLU_VACCINE, active=True))
    teams_of: dict[Practitioner, list[CareTeam]] = defaultdict(list)
    for team in clinical_teams(campuses.values()):
        for member in team.members.all():
            if member.is_clinical and member.active:
                teams_of[member].append(team)
    scheduled = set(ScheduleTemplate.objects.values_list("practitioner_id", flat=True).distinct())
    templates: list[ScheduleTemplate] = []
    allowed: list[list[VisitType]] = []
    waiting = sorted((p for p in teams_of if p.pk not in scheduled), key=lambda p: p.pk)
    for index, practitioner in enumerate(waiting):
        for session in weekly_sessions(practitioner, teams_of[practitioner], index):
            campus, department = team_place(session.team)
            department_slug = department.slug
            offered = catalogue[department_slug] + (flu if department_slug in FLU_DEPARTMENTS else [])
            fitting = fitting_visit_types(offered, session.slot_minutes)
            if not fitting:
                continue
            templates.append(
                ScheduleTemplate(
                    practitioner=practitioner,
                    campus=campus,
                    department=department,
                    weekday=session.weekday,
                    starts=session.starts,
                    ends=session.ends,
                    slot_minutes=session.slot_minutes,
                    valid_from=today,
                )
            )
            allowed.append(fitting)
    ScheduleTemplate.objects.bulk_create(templates)
    through = ScheduleTemplate.visit_types.through
    through.objects.bulk_create(
        [
            through(scheduletemplate_id=template.pk, visittype_id=visit_type.pk)
            for template, visit_types in zip(templates, allowed, strict=True)
            for visit_type in visit_types
        ]
    )
    return templates


def team_place(team: CareTeam) -> tuple[Campus, Department]:
    """A clinical team's campus and department, which seeding needs both of."""
    if team.campus is None or team.department is None:
        raise ValueError(f"{team.slug} is not a department's team at a campus")
    return team.campus, team.department


def fitting_visit_types(visit_types: list[VisitType], slot_minutes: int) -> list[VisitType]:
    """The types a slot suits: long enough for them, and not more than twice as long,
    so an hour kept for consultations is not spent on a vaccine."""
    return [vt for vt in visit_types if slot_minutes // 2 <= vt.duration_minutes <= slot_minutes]


def weekdays_by_team(teams: list[CareTeam]) -> dict[CareTeam, list[int]]:
    """Split Monday to Friday between a clinician's teams: one day at each visited campus,
    from Friday backwards, and the rest at home (the team earliest in campus order)."""
    ordered = sorted(teams, key=lambda team: (_campus_rank(team), team.slug))
    home, visits = ordered[0], ordered[1 : len(WEEKDAYS)]
    days = {team: [FRIDAY - offset] for offset, team in enumerate(visits)}
    taken = {day for team_days in days.values() for day in team_days}
    days[home] = [day for day in WEEKDAYS if day not in taken]
    return days


def _campus_rank(team: CareTeam) -> int:
    slug = team.campus.slug if team.campus else ""
    return CAMPUS_ORDER.index(slug) if slug in CAMPUS_ORDER else len(CAMPUS_ORDER)


def weekly_sessions(practitioner: Practitioner, teams: list[CareTeam], index: int) -> list[Session]:
    """A clinician's week. `index` varies it from one clinician to the next."""
    sessions: list[Session] = []
    for team, days in weekdays_by_team(teams).items():
        shift = -60 if team.campus and team.campus.slug in EARLY_CAMPUSES else 0
        for day in days:
            sessions.extend(_day(practitioner, team, day, index, shift, only_day=len(days) == 1))
    return sessions


def _day(
    practitioner: Practitioner, team: CareTeam, day: int, index: int, shift: int, *, only_day: bool
) -> list[Session]:
    def at(hour: int, minute: int = 0) -> dt.time:
        moment = dt.datetime.combine(dt.date(2000, 1, 1), dt.time(hour, minute)) + dt.timedelta(minutes=shift)
        return moment.time()

    if practitioner.role == Role.NURSE:
        # Nurses run short visits where the department has them (vaccines, blood draws).
        length = 15 if team.department and _has_short_visits(team.department.slug) else 30
        return [
            Session(team, day, at(8, 0) if index % 2 else at(7, 30), at(12), length),
            Session(team, day, at(13), at(16, 30), length),
        ]
    morning_start = at(8, 30) if index % 3 == 1 else at(8)
    long_morning = day == index % len(WEEKDAYS) or (only_day and index % 2 == 0)
    sessions = [
        Session(team, day, at(8) if long_morning else morning_start, at(12), 60 if long_morning else 30)
    ]
    admin_afternoon = practitioner.role == Role.PHYSICIAN and day == (index + 2) % len(WEEKDAYS)
    if not admin_afternoon or only_day:
        ends = at(16) if index % 4 == 3 else at(16, 30)
        sessions.append(Session(team, day, at(13, 30) if index % 2 else at(13), ends, 30))
    return sessions


def _has_short_visits(department_slug: str) -> bool:
    return department_slug in FLU_DEPARTMENTS or department_slug == "laboratory-medicine"
