"""The demo's catalogue, schedules and appointments: complete, idempotent, never double-booked."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise

import pytest
import time_machine
from django.db.models import Model
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.lib.seeding.demo_appointments import seed_demo_appointments, seed_generated_appointments
from portal.lib.seeding.demo_users import create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.patients import seed_patients
from portal.lib.seeding.schedules import seed_schedules, weekdays_by_team
from portal.notifications.models import OutboxMessage
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import Patient
from portal.scheduling.booking import may_change_online
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ConsentForm,
    Questionnaire,
    ScheduleTemplate,
    Slot,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.scheduling.slots import generate_slots

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
SEEDED_MODELS: list[type[Model]] = [
    Questionnaire, ConsentForm, VisitType, ScheduleTemplate, Slot, Appointment,
    AppointmentRequest, SlotOffer, WaitlistEntry, OutboxMessage,
]  # fmt: skip


def seed_everything(now: dt.datetime) -> dict[str, Campus]:
    campuses = seed_organization()
    seed_patients(12, seed=3, record_years=0)
    create_demo_users()
    seed_schedules(campuses, now.date())
    seed_demo_appointments(now)
    seed_generated_appointments(0.5, 3, now)
    return campuses


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in SEEDED_MODELS}


def clinicians_of_clinical_teams() -> set[Practitioner]:
    teams = CareTeam.objects.filter(kind=CareTeam.Kind.CLINICAL, campus__isnull=False).prefetch_related(
        "members"
    )
    return {member for team in teams for member in team.members.all() if member.is_clinical}


def assert_no_overlap(intervals: Iterable[tuple[dt.datetime, dt.datetime]], whose: object) -> None:
    ordered = sorted(intervals)
    for (_start, end), (next_start, _next_end) in pairwise(ordered):
        assert end <= next_start, f"{whose}: {end} overlaps {next_start}"


def test_seeding_twice_adds_nothing(settings: Settings) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 40
    now = timezone.now()
    campuses = seed_everything(now)
    first = counts()
    assert first["Slot"] > 1000 and first["Appointment"] > 11
    seed_schedules(campuses, now.date())
    assert seed_demo_appointments(now) == 0
    assert seed_generated_appointments(0.5, 3, now).upcoming == 0
    assert counts() == first


def test_every_clinician_has_a_week_without_overlaps_and_no_one_is_double_booked(
    settings: Settings,
) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 40
    seed_everything(timezone.now())
    clinicians = clinicians_of_clinical_teams()
    scheduled = set(ScheduleTemplate.objects.values_list("practitioner_id", flat=True))
    assert clinicians and {clinician.pk for clinician in clinicians} <= scheduled
    slots: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for practitioner_id, starts_at, ends_at in Slot.objects.values_list(
        "practitioner_id", "starts_at", "ends_at"
    ):
        slots[practitioner_id].append((starts_at, ends_at))
    assert set(slots) >= {clinician.pk for clinician in clinicians}
    for practitioner_id, intervals in slots.items():
        assert_no_overlap(intervals, practitioner_id)
    booked: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    holding = Appointment.objects.filter(status__in=Appointment.HOLDS_SLOT, starts_at__gt=timezone.now())
    for practitioner_id, starts_at, ends_at in holding.values_list("practitioner_id", "starts_at", "ends_at"):
        booked[practitioner_id].append((starts_at, ends_at))
    assert sum(len(intervals) for intervals in booked.values()) >= 6  # the demo's own, and more
    for practitioner_id, intervals in booked.items():
        assert_no_overlap(intervals, practitioner_id)
    # Every future booking holds a slot the slot table agrees is booked.
    assert not holding.filter(slot__isnull=True).exists()
    assert not holding.exclude(slot__status=Slot.Status.BOOKED).exists()


def test_rochester_physicians_visit_london_and_the_childrens_center_one_day_each() -> None:
    seed_organization()
    teams = list(
        CareTeam.objects.filter(slug__in=["rochester-radiology", "london-radiology", "childrens-radiology"])
    )
    (physician,) = set.intersection(*(set(team.members.all()) for team in teams))
    days = {team.slug: weekdays for team, weekdays in weekdays_by_team(teams).items()}
    assert days == {"rochester-radiology": [0, 1, 2], "london-radiology": [4], "childrens-radiology": [3]}
    assert physician.role == Practitioner.Role.PHYSICIAN


def test_slots_cover_the_next_ninety_days_at_every_campus(settings: Settings) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 92
    campuses = seed_organization()
    now = timezone.now()
    seed_schedules(campuses, now.date())
    for campus in campuses.values():
        here = Slot.objects.filter(campus=campus, status=Slot.Status.OPEN)
        assert here.filter(starts_at__lt=now + 7 * DAY).exists(), campus.slug
        assert here.filter(starts_at__gte=now + 83 * DAY, starts_at__lt=now + 90 * DAY).exists(), campus.slug
        for department in campus.departments.all():
            assert here.filter(department=department, starts_at__gte=now + 83 * DAY).exists(), department.slug
    # Phoenix starts an hour earlier than the others, as its campus does.
    earliest = {
        slug: ScheduleTemplate.objects.filter(campus__slug=slug)
        .order_by("starts")
        .values_list("starts", flat=True)[0]
        for slug in ("phoenix", "rochester")
    }
    assert earliest["phoenix"].hour == earliest["rochester"].hour - 1


def test_seeding_makes_the_slots_generate_slots_would(settings: Settings) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 15
    # Both skip slots that have started: with the clock running, a slot starting between
    # the two runs (this takes many seconds on a busy machine) would be in one set only.
    with time_machine.travel(timezone.now(), tick=False):
        _seed_then_generate_the_same_slots()


def _seed_then_generate_the_same_slots() -> None:
    campuses = seed_organization()
    today = timezone.now().date()
    seed_schedules(campuses, today)
    fields = (
        "template_id",
        "practitioner_id",
        "campus_id",
        "department_id",
        "starts_at",
        "ends_at",
        "status",
    )
    seeded = set(Slot.objects.values_list(*fields))
    Slot.objects.all().delete()
    generate_slots(start=today, days=15)
    assert seeded == set(Slot.objects.values_list(*fields))
    assert len(seeded) > 1000


def test_the_catalogue_has_forms_for_the_visits_that_need_them(settings: Settings) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 7
    campuses = seed_organization()
    seed_schedules(campuses, timezone.now().date())
    physical = VisitType.objects.get(slug="annual-physical-family-medicine")
    assert physical.self_schedulable and physical.duration_minutes == 60
    assert {q.slug for q in physical.questionnaires.all()} == {"before-your-visit", "phq-2", "falls-risk"}
    video = VisitType.objects.get(slug="video-follow-up-cardiology")
    assert video.is_video and video.established_only
    assert list(video.consent_forms.values_list("slug", flat=True)) == ["telehealth-consent"]
    assert not VisitType.objects.get(slug="new-consult-oncology").self_schedulable
    phq = Questionnaire.objects.get(slug="phq-2")
    assert all(item["type"] == "choice" and len(item["answerOption"]) == 4 for item in phq.items)
    # Nurses in primary care run 15-minute vaccine slots.
    nurse_templates = ScheduleTemplate.objects.filter(
        practitioner__role=Practitioner.Role.NURSE, department__slug="family-medicine"
    )
    assert nurse_templates.exists()
    assert set(nurse_templates.values_list("slot_minutes", flat=True)) == {15}
    assert set(nurse_templates.values_list("visit_types__slug", flat=True)) == {"flu-vaccine"}


def test_jamie_and_the_brooks_family_have_every_kind_of_visit(settings: Settings) -> None:
    settings.PORTAL_SLOT_HORIZON_DAYS = 45
    now = timezone.now()
    seed_everything(now)
    jamie = Patient.objects.get(account__username="demo-patient")
    visits = {a.source_id: a for a in Appointment.objects.filter(patient=jamie)}
    tomorrow, physical, video, later = (visits[f"demo:jamie:{n}"] for n in range(1, 5))
    assert now < tomorrow.starts_at < now + dt.timedelta(hours=24)
    assert not may_change_online(tomorrow)
    assert 1 < (physical.starts_at - now) / DAY < 6 and may_change_online(physical)
    assert physical.visit_type.questionnaires.exists() and physical.visit_type.consent_forms.exists()
    assert video.is_video and 7 < (video.starts_at - now) / DAY < 13
    assert 31 < (later.starts_at - now) / DAY < 39
    assert WaitlistEntry.objects.filter(appointment=later, status=WaitlistEntry.Status.ACTIVE).exists()
    for appointment in (tomorrow, physical, video, later):
        assert appointment.status == Appointment.Status.BOOKED
        assert appointment.slot is not None and appointment.slot.status == Slot.Status.BOOKED
    past = [a for a in visits.values() if a.starts_at < now]
    assert 4 <= len(past) <= 6
    assert {a.status for a in past} == {"fulfilled", "noshow", "cancelled"}
    assert OutboxMessage.objects.filter(patient=jamie, topic="scheduling.reminder").exists()

    offered = AppointmentRequest.objects.get(patient=jamie, campus__slug="jacksonville")
    assert offered.status == AppointmentRequest.Status.OFFERED
    assert offered.department is not None and offered.department.slug == "cardiology"
    assert offered.offers.filter(status=SlotOffer.Status.OPEN, slot__status=Slot.Status.OPEN).count() == 2
    waiting = AppointmentRequest.objects.get(patient=jamie, campus__slug="phoenix")
    assert waiting.status == AppointmentRequest.Status.SUBMITTED

    mia = Appointment.objects.get(source_id="demo:mia:1")
    assert mia.patient.given_name == "Mia" and mia.campus.slug == "childrens"
    assert mia.visit_type.name == "Well-child visit" and 10 < (mia.starts_at - now) / DAY < 18
    walter = Appointment.objects.get(source_id="demo:walter:1")
    assert walter.patient.given_name == "Walter" and walter.department.slug == "cardiology"
