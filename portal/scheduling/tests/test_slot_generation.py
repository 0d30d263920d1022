"""Turning sessions into slots: campus-local times across daylight saving, idempotence,
blocks that close and reopen slots, and the rules a new session must keep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.organization.models import Campus, Department
from portal.scheduling.actions_schedules import (
    ScheduleRefused,
    TemplateDraft,
    do_add_block,
    do_add_template,
    do_end_template,
    do_remove_block,
    do_remove_template,
    rights_of,
)
from portal.scheduling.models import ScheduleBlock, ScheduleTemplate, Slot
from portal.scheduling.slots import generate_slots
from portal.scheduling.tests.support import SchedulingWorld, book, make_visit_type, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NEW_YEAR = dt.datetime(2027, 1, 1, tzinfo=UTC)
TUESDAY_IN_JANUARY = dt.date(2027, 1, 5)
TUESDAY_IN_JULY = dt.date(2027, 7, 6)
SPRING_FORWARD = dt.date(2027, 3, 14)  # a Sunday: US clocks jump from 2:00 to 3:00
FALL_BACK = dt.date(2027, 11, 7)  # a Sunday: US clocks go back from 2:00 to 1:00


@pytest.fixture
def sw(world: World) -> Iterator[SchedulingWorld]:
    with time_machine.travel(NEW_YEAR, tick=False):
        yield scheduling_world(world)


def campus_in(zone: str, department: Department) -> Campus:
    campus = Campus.objects.create(
        slug=zone.lower().replace("/", "-"),
        name=zone,
        short_name=zone[:40],
        address_line="1 Main Street",
        city="Somewhere",
        postal_code="00000",
        time_zone=zone,
        zone_label=f"{zone} time",
        main_phone="555-0100",
        appointments_phone="555-0101",
    )
    department.campuses.add(campus)
    return campus


def weekly(
    sw: SchedulingWorld,
    campus: Campus,
    weekday: int,
    starts: dt.time,
    ends: dt.time,
    slot_minutes: int = 30,
    valid_from: dt.date = dt.date(2027, 1, 1),
) -> ScheduleTemplate:
    template = ScheduleTemplate.objects.create(
        practitioner=sw.clinician,
        campus=campus,
        department=sw.department,
        weekday=weekday,
        starts=starts,
        ends=ends,
        slot_minutes=slot_minutes,
        valid_from=valid_from,
    )
    template.visit_types.set([sw.follow_up])
    return template


def starts_on(day: dt.date) -> list[dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
    return list(
        Slot.objects.filter(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=2)).values_list(
            "starts_at", flat=True
        )
    )


@pytest.mark.parametrize(
    ("zone", "january_hour", "july_hour"),
    [
        ("America/Chicago", 15, 14),
        ("America/New_York", 14, 13),
        ("Europe/London", 9, 8),
        ("America/Phoenix", 16, 16),
    ],
)
def test_a_nine_oclock_session_stays_at_nine_local(
    sw: SchedulingWorld, zone: str, january_hour: int, july_hour: int
) -> None:
    campus = campus_in(zone, sw.department)
    template = weekly(sw, campus, 1, dt.time(9), dt.time(12))
    with time_machine.travel(NEW_YEAR, tick=False):
        generate_slots([template], start=TUESDAY_IN_JANUARY, days=1)
        generate_slots([template], start=TUESDAY_IN_JULY, days=1)
    january = starts_on(TUESDAY_IN_JANUARY)
    july = starts_on(TUESDAY_IN_JULY)
    assert january[0] == dt.datetime.combine(TUESDAY_IN_JANUARY, dt.time(january_hour), tzinfo=UTC)
    assert july[0] == dt.datetime.combine(TUESDAY_IN_JULY, dt.time(july_hour), tzinfo=UTC)
    assert len(january) == len(july) == 6
    assert all(instant.astimezone(campus.zone).hour in (9, 10, 11) for instant in january + july)


def test_the_spring_forward_gap_has_no_slots(sw: SchedulingWorld) -> None:
    template = weekly(sw, sw.world.campus, 6, dt.time(1), dt.time(4))
    with time_machine.travel(NEW_YEAR, tick=False):
        assert generate_slots([template], start=SPRING_FORWARD, days=1) == 4
    local_times = [instant.astimezone(sw.world.campus.zone).time() for instant in starts_on(SPRING_FORWARD)]
    # 2:00 and 2:30 do not exist that night.
    assert local_times == [dt.time(1), dt.time(1, 30), dt.time(3), dt.time(3, 30)]
    assert starts_on(SPRING_FORWARD)[2] == dt.datetime(2027, 3, 14, 8, tzinfo=UTC)


def test_the_fall_back_night_has_no_duplicates(sw: SchedulingWorld) -> None:
    template = weekly(sw, sw.world.campus, 6, dt.time(0), dt.time(3))
    with time_machine.travel(NEW_YEAR, tick=False):
        assert generate_slots([template], start=FALL_BACK, days=1) == 6
    instants = starts_on(FALL_BACK)
    local_times = [instant.astimezone(sw.world.campus.zone).time() for instant in instants]
    assert local_times == [dt.time(0), dt.time(0, 30), dt.time(1), dt.time(1, 30), dt.time(2), dt.time(2, 30)]
    assert len(set(instants)) == 6
    # 1:00 is taken the first time round (still daylight time, 06:00Z); 2:00 is standard time.
    assert instants[2] == dt.datetime(2027, 11, 7, 6, tzinfo=UTC)
    assert instants[4] == dt.datetime(2027, 11, 7, 8, tzinfo=UTC)


def test_running_again_creates_nothing(sw: SchedulingWorld) -> None:
    template = weekly(sw, sw.world.campus, 1, dt.time(9), dt.time(12))
    with time_machine.travel(NEW_YEAR, tick=False):
        first = generate_slots([template], start=TUESDAY_IN_JANUARY, days=28)
        assert first == 24
        assert generate_slots([template], start=TUESDAY_IN_JANUARY, days=28) == 0
        assert generate_slots(start=TUESDAY_IN_JANUARY, days=28) == 0
    assert Slot.objects.count() == 24


def test_the_command_opens_slots_once(sw: SchedulingWorld) -> None:
    weekly(sw, sw.world.campus, 1, dt.time(9), dt.time(12))
    with time_machine.travel(NEW_YEAR, tick=False):
        out = StringIO()
        call_command("generate_slots", "--days", "14", stdout=out)
        assert out.getvalue().strip() == "Created 12 slots for the next 14 days."
        again = StringIO()
        call_command("generate_slots", "--days", "14", stdout=again)
        assert again.getvalue().startswith("Created 0 slots")
        with pytest.raises(CommandError):
            call_command("generate_slots", "--days", "0")
    assert Slot.objects.count() == 12


def _draft(sw: SchedulingWorld, **changes: object) -> TemplateDraft:
    fields: dict[str, object] = {
        "campus": sw.world.campus,
        "department": sw.department,
        "weekday": 1,
        "starts": dt.time(9),
        "ends": dt.time(12),
        "slot_minutes": 30,
        "visit_types": [sw.follow_up],
        "valid_from": TUESDAY_IN_JANUARY,
        "valid_until": None,
    }
    fields.update(changes)
    return TemplateDraft(**fields)  # type: ignore[arg-type]


def _add(sw: SchedulingWorld, **changes: object) -> ScheduleTemplate:
    scheduler = sw.world.scheduler
    with time_machine.travel(NEW_YEAR, tick=False):
        template, _created = do_add_template(
            Actor(user=scheduler), rights_of(scheduler), sw.clinician, _draft(sw, **changes)
        )
    return template


def test_adding_a_session_opens_its_slots_and_is_audited(sw: SchedulingWorld) -> None:
    template = _add(sw)
    assert Slot.objects.filter(template=template).count() > 0
    event = AuditEvent.objects.get(action="schedules.template_add")
    assert event.patient_id is None
    assert event.object_id == str(template.pk)


def test_overlapping_sessions_are_refused_at_any_campus(sw: SchedulingWorld) -> None:
    _add(sw)
    other = campus_in("America/Denver", sw.department)
    admin = sw.world.admin
    with time_machine.travel(NEW_YEAR, tick=False), pytest.raises(ScheduleRefused, match="overlaps"):
        do_add_template(
            Actor(user=admin),
            rights_of(admin),
            sw.clinician,
            _draft(sw, campus=other, starts=dt.time(11), ends=dt.time(13), valid_from=dt.date(2027, 6, 1)),
        )
    assert ScheduleTemplate.objects.count() == 1


def test_sessions_that_do_not_meet_may_be_added(sw: SchedulingWorld) -> None:
    first = _add(sw, valid_until=dt.date(2027, 3, 31))
    _add(sw, valid_from=dt.date(2027, 4, 1))  # same hours, after the first ends
    _add(sw, weekday=2)  # another day
    _add(sw, starts=dt.time(12), ends=dt.time(13))  # straight after
    assert ScheduleTemplate.objects.exclude(pk=first.pk).count() == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends": dt.time(8)}, "ends"),
        ({"starts": dt.time(9), "ends": dt.time(9, 20)}, "slot_minutes"),
        ({"valid_from": dt.date(2026, 12, 1)}, "valid_from"),
        ({"valid_until": dt.date(2027, 1, 4)}, "valid_until"),
        ({"valid_until": TUESDAY_IN_JANUARY, "weekday": 2}, "weekday"),
        ({"visit_types": []}, "visit_types"),
    ],
)
def test_broken_sessions_are_refused(sw: SchedulingWorld, changes: dict[str, object], field: str) -> None:
    with pytest.raises(ScheduleRefused) as refusal:
        _add(sw, **changes)
    assert refusal.value.field == field
    assert not ScheduleTemplate.objects.exists()
    assert not Slot.objects.exists()


def test_visit_types_must_fit_the_slot_and_the_department(sw: SchedulingWorld) -> None:
    with pytest.raises(ScheduleRefused, match="longer than one slot"):
        _add(sw, visit_types=[sw.consult])  # 60 minutes in 30-minute slots
    cardiology = Department.objects.create(slug="cardiology", name="Cardiology")
    cardiology.campuses.add(sw.world.campus)
    echo = make_visit_type(cardiology, "echo", "Echocardiogram")
    with pytest.raises(ScheduleRefused, match="another department"):
        _add(sw, visit_types=[echo])
    vaccine = make_visit_type(None, "flu-shot", "Flu shot", minutes=10)
    assert _add(sw, visit_types=[vaccine, sw.follow_up]).visit_types.count() == 2


def test_the_campus_must_offer_the_department(sw: SchedulingWorld) -> None:
    elsewhere = Department.objects.create(slug="dermatology", name="Dermatology")
    with pytest.raises(ScheduleRefused, match="not offered") as refusal:
        _add(sw, department=elsewhere, visit_types=[make_visit_type(None, "any", "Any", minutes=30)])
    assert refusal.value.field == "department"


def test_a_desk_cannot_add_sessions_at_another_campus(sw: SchedulingWorld) -> None:
    other = campus_in("America/Denver", sw.department)
    with pytest.raises(ScheduleRefused):
        _add(sw, campus=other)
    carol = sw.world.clinician
    with time_machine.travel(NEW_YEAR, tick=False), pytest.raises(ScheduleRefused):
        do_add_template(Actor(user=carol), rights_of(carol), sw.clinician, _draft(sw))
    assert not ScheduleTemplate.objects.exists()


def test_a_one_day_session_opens_only_that_day(sw: SchedulingWorld) -> None:
    template = _add(sw, valid_until=TUESDAY_IN_JANUARY)
    local_days = {slot.starts_at.astimezone(sw.world.campus.zone).date() for slot in template.slots.all()}
    assert local_days == {TUESDAY_IN_JANUARY}


def block_now(sw: SchedulingWorld, starts_at: dt.datetime, ends_at: dt.datetime) -> ScheduleBlock:
    carol = sw.world.clinician  # a clinician blocks their own time
    with time_machine.travel(NEW_YEAR, tick=False):
        block, _count = do_add_block(
            Actor(user=carol), rights_of(carol), sw.clinician, ScheduleBlock.Kind.LEAVE, starts_at, ends_at
        )
    return block


def test_blocks_close_slots_and_reopen_them_when_removed(sw: SchedulingWorld) -> None:
    template = _add(sw)
    zone = sw.world.campus.zone
    morning = dt.datetime.combine(TUESDAY_IN_JANUARY, dt.time(9), tzinfo=zone)
    first = block_now(sw, morning, morning + dt.timedelta(hours=1))
    second = block_now(sw, morning + dt.timedelta(minutes=30), morning + dt.timedelta(hours=2))
    day = Slot.objects.filter(template=template, starts_at__lt=morning + dt.timedelta(hours=3))
    assert list(day.values_list("status", flat=True)) == ["blocked"] * 4 + ["open"] * 2
    carol = sw.world.clinician
    with time_machine.travel(NEW_YEAR, tick=False):
        reopened = do_remove_block(Actor(user=carol), rights_of(carol), first)
    # Only 9:00 reopens: 9:30 is still inside the second block.
    assert reopened == 1
    assert list(day.values_list("status", flat=True)) == ["open"] + ["blocked"] * 3 + ["open"] * 2
    with time_machine.travel(NEW_YEAR, tick=False):
        do_remove_block(Actor(user=carol), rights_of(carol), second)
    assert set(day.values_list("status", flat=True)) == {"open"}
    actions = set(
        AuditEvent.objects.filter(action__startswith="schedules.block").values_list("action", flat=True)
    )
    assert actions == {"schedules.block_add", "schedules.block_remove"}


def test_slots_generated_inside_a_block_start_blocked(sw: SchedulingWorld) -> None:
    zone = sw.world.campus.zone
    morning = dt.datetime.combine(TUESDAY_IN_JANUARY, dt.time(9), tzinfo=zone)
    block_now(sw, morning, morning + dt.timedelta(hours=1))
    template = _add(sw, valid_until=TUESDAY_IN_JANUARY)
    statuses = list(template.slots.values_list("status", flat=True))
    assert statuses == ["blocked", "blocked", "open", "open", "open", "open"]


def test_a_block_keeps_booked_visits_and_checks_its_period(sw: SchedulingWorld) -> None:
    template = _add(sw, valid_until=TUESDAY_IN_JANUARY)
    slot = template.slots.first()
    assert slot is not None
    with time_machine.travel(NEW_YEAR, tick=False):
        book(sw, slot)
    block_now(sw, slot.starts_at, slot.ends_at + dt.timedelta(hours=1))
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BOOKED
    for starts_at, ends_at in [
        (slot.starts_at, slot.starts_at),
        (slot.starts_at, slot.starts_at + dt.timedelta(days=400)),
        (NEW_YEAR - dt.timedelta(days=2), NEW_YEAR - dt.timedelta(days=1)),
    ]:
        with pytest.raises(ScheduleRefused):
            block_now(sw, starts_at, ends_at)
    assert ScheduleBlock.objects.count() == 1


def test_ending_a_session_withdraws_its_later_open_slots(sw: SchedulingWorld) -> None:
    template = _add(sw)
    scheduler = sw.world.scheduler
    later = template.slots.order_by("starts_at").last()
    assert later is not None
    with time_machine.travel(NEW_YEAR, tick=False):
        book(sw, later)
        ended = do_end_template(Actor(user=scheduler), rights_of(scheduler), template, dt.date(2027, 1, 31))
    template.refresh_from_db()
    assert template.valid_until == dt.date(2027, 1, 31)
    cutoff = dt.datetime(2027, 2, 1, tzinfo=sw.world.campus.zone)
    after = template.slots.filter(starts_at__gte=cutoff)
    assert ended.withdrawn == after.filter(status=Slot.Status.BLOCKED).count() > 0
    assert ended.still_booked == 1
    assert not after.filter(status=Slot.Status.OPEN).exists()
    assert template.slots.filter(starts_at__lt=cutoff, status=Slot.Status.OPEN).count() == 24
    with time_machine.travel(NEW_YEAR, tick=False), pytest.raises(ScheduleRefused):
        do_end_template(Actor(user=scheduler), rights_of(scheduler), template, dt.date(2027, 2, 28))
    assert AuditEvent.objects.filter(action="schedules.template_end").count() == 1


def test_only_a_session_without_slots_can_be_removed(sw: SchedulingWorld) -> None:
    scheduler = sw.world.scheduler
    used = _add(sw)
    unused = _add(sw, weekday=3, valid_from=dt.date(2032, 1, 1))
    assert not unused.slots.exists()
    with time_machine.travel(NEW_YEAR, tick=False):
        with pytest.raises(ScheduleRefused):
            do_remove_template(Actor(user=scheduler), rights_of(scheduler), used)
        do_remove_template(Actor(user=scheduler), rights_of(scheduler), unused)
    assert list(ScheduleTemplate.objects.all()) == [used]
