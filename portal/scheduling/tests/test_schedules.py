"""The schedules pages: who sees which clinician, adding and ending sessions, blocks and the
visits inside them, visit types, bad input, and bounded queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.scheduling.models import ScheduleBlock, ScheduleTemplate, Slot, VisitType
from portal.scheduling.slots import generate_slots
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db
MISSING = 987654


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


@pytest.fixture
def other_desk(world: World) -> User:
    """A scheduler at another campus, where Carol does not work."""
    campus = Campus.objects.create(
        slug="phoenix",
        name="Phoenix, Arizona",
        short_name="Phoenix",
        address_line="5777 East Mayo Boulevard",
        city="Phoenix",
        postal_code="85054",
        time_zone="America/Phoenix",
        zone_label="Arizona time",
        main_phone="480-555-0100",
        appointments_phone="480-555-0101",
    )
    desk = CareTeam.objects.create(
        slug="phx-desk", name="Phoenix desk", campus=campus, kind=CareTeam.Kind.SCHEDULING_DESK
    )
    return make_staff("olga", Practitioner.Role.SCHEDULER, desk)


def clinician_url(sw: SchedulingWorld, rest: str = "", practitioner_id: int | None = None) -> str:
    return f"/staff/schedules/clinicians/{practitioner_id or sw.clinician.pk}/{rest}"


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def session_post(sw: SchedulingWorld, **changes: Any) -> dict[str, Any]:
    tuesday = timezone.now().date() + dt.timedelta(days=(1 - timezone.now().weekday()) % 7 + 7)
    data: dict[str, Any] = {
        "campus": sw.world.campus.pk,
        "department": sw.department.pk,
        "weekday": 1,
        "starts": "09:00",
        "ends": "12:00",
        "slot_minutes": "30",
        "visit_types": [sw.follow_up.pk, sw.video.pk],
        "valid_from": tuesday.isoformat(),
        "valid_until": "",
    }
    data.update(changes)
    return data


def a_session(sw: SchedulingWorld) -> ScheduleTemplate:
    template = ScheduleTemplate.objects.create(
        practitioner=sw.clinician,
        campus=sw.world.campus,
        department=sw.department,
        weekday=1,
        starts=dt.time(9),
        ends=dt.time(12),
        slot_minutes=30,
        valid_from=timezone.now().date(),
    )
    template.visit_types.set([sw.follow_up])
    generate_slots([template], days=21)
    return template


# Who sees what ------------------------------------------------------------------------------


def test_the_desk_sees_its_clinicians_and_their_schedules(sw: SchedulingWorld) -> None:
    a_session(sw)
    client = client_for(sw.world.scheduler)
    home = client.get("/staff/schedules/")
    assert home.status_code == 200
    assert sw.clinician.display_name in home.content.decode()
    assert sw.world.unassigned_staff.practitioner.display_name not in home.content.decode()
    page = client.get(clinician_url(sw))
    assert page.status_code == 200
    text = page.content.decode()
    assert "9:00 AM to 12:00 PM (Central time)" in text
    assert "Follow-up visit" in text
    assert clinician_url(sw, "sessions/new/") in text


def test_the_home_list_filters_by_campus_and_department(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.admin)
    assert (
        sw.clinician.display_name
        in client.get(f"/staff/schedules/?department={sw.department.pk}").content.decode()
    )
    dave = sw.world.unassigned_staff.practitioner.display_name
    assert dave in client.get("/staff/schedules/").content.decode()
    assert dave not in client.get(f"/staff/schedules/?campus={sw.world.campus.pk}").content.decode()
    assert client.get("/staff/schedules/?campus=x&department=%00").status_code == 200


def test_a_desk_of_another_campus_gets_the_missing_page(sw: SchedulingWorld, other_desk: User) -> None:
    template = a_session(sw)
    client = client_for(other_desk)
    assert sw.clinician.display_name not in client.get("/staff/schedules/").content.decode()
    for rest, missing_rest in [
        ("", ""),
        ("sessions/new/", "sessions/new/"),
        (f"sessions/{template.pk}/end/", f"sessions/{MISSING}/end/"),
        ("blocks/new/", "blocks/new/"),
    ]:
        refused = client.get(clinician_url(sw, rest))
        missing = client.get(clinician_url(sw, missing_rest, practitioner_id=MISSING))
        assert_same_as_missing(refused, missing)


def test_a_clinician_sees_only_their_own_schedule(sw: SchedulingWorld) -> None:
    template = a_session(sw)
    carol = client_for(sw.world.clinician)
    page = carol.get(clinician_url(sw))
    assert page.status_code == 200
    assert clinician_url(sw, "blocks/new/") in page.content.decode()
    assert clinician_url(sw, "sessions/new/") not in page.content.decode()
    for rest in ["sessions/new/", f"sessions/{template.pk}/end/"]:
        assert carol.get(clinician_url(sw, rest)).status_code == 404
    assert carol.get("/staff/schedules/visit-types/").status_code == 404
    dave = client_for(sw.world.unassigned_staff)
    assert_same_as_missing(dave.get(clinician_url(sw)), dave.get(clinician_url(sw, practitioner_id=MISSING)))
    assert (
        dave.get(clinician_url(sw, practitioner_id=sw.world.unassigned_staff.practitioner.pk)).status_code
        == 200
    )


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient"])
def test_patients_get_the_missing_page(sw: SchedulingWorld, persona: str) -> None:
    sw.world.proxy_grant.scopes = ["view", "message", "schedule"]
    sw.world.proxy_grant.save()
    client = client_for(sw.world.persona(persona))
    for path in ["/staff/schedules/", clinician_url(sw), "/staff/schedules/visit-types/"]:
        assert client.get(path).status_code == 404


def test_staff_without_a_desk_or_a_schedule_get_the_missing_page(sw: SchedulingWorld) -> None:
    billing = make_staff("bill", Practitioner.Role.BILLING)
    client = client_for(billing)
    assert client.get("/staff/schedules/").status_code == 404
    assert_same_as_missing(
        client.get(clinician_url(sw)), client.get(clinician_url(sw, practitioner_id=MISSING))
    )


def test_anonymous_visitors_are_sent_to_sign_in(sw: SchedulingWorld) -> None:
    client = Client()
    for path in ["/staff/schedules/", clinician_url(sw), "/staff/schedules/visit-types/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert client.post(clinician_url(sw, "sessions/new/"), session_post(sw)).status_code == 302
    assert not ScheduleTemplate.objects.exists()


# Sessions -----------------------------------------------------------------------------------


def test_the_desk_adds_a_session_and_its_slots_open(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)
    response = client.post(clinician_url(sw, "sessions/new/"), session_post(sw))
    assert response.status_code == 302
    template = ScheduleTemplate.objects.get()
    assert list(template.visit_types.order_by("pk")) == [sw.follow_up, sw.video]
    assert Slot.objects.filter(template=template, status=Slot.Status.OPEN).count() > 0
    assert AuditEvent.objects.filter(action="schedules.template_add", patient_id__isnull=True).count() == 1
    assert "slots opened" in client.get(clinician_url(sw)).content.decode()


def test_a_one_day_session_takes_its_weekday_from_its_date(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)
    day = timezone.now().date() + dt.timedelta(days=10)
    post = session_post(sw, one_day_only="on", weekday="", valid_from=day.isoformat())
    assert client.post(clinician_url(sw, "sessions/new/"), post).status_code == 302
    template = ScheduleTemplate.objects.get()
    assert (template.weekday, template.valid_until) == (day.weekday(), day)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends": "08:00"}, "must end after it starts"),
        ({"slot_minutes": "240"}, "shorter than one slot"),
        ({"visit_types": [0]}, "Select a valid choice"),
        ({"visit_types": []}, "This field is required"),
        ({"starts": "25:99"}, "Enter a valid time"),
        ({"valid_from": "2026-13-45"}, "Enter a valid date"),
        ({"valid_from": "9999-12-31"}, "within the next five years"),
        ({"weekday": "9"}, "Select a valid choice"),
        ({"weekday": ""}, "Choose the weekday"),
        ({"campus": "x" * 5000}, "Select a valid choice"),
        ({"slot_minutes": "1" * 400}, "less than or equal to 240"),
        ({"valid_until": "2020-01-01"}, "within the next five years"),
    ],
)
def test_bad_sessions_change_nothing(sw: SchedulingWorld, changes: dict[str, Any], message: str) -> None:
    client = client_for(sw.world.scheduler)
    response = client.post(clinician_url(sw, "sessions/new/"), session_post(sw, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "There is a problem" in response.content.decode()
    assert not ScheduleTemplate.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="schedules.").exists()


def test_an_overlapping_session_is_refused_on_the_page(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)
    assert client.post(clinician_url(sw, "sessions/new/"), session_post(sw)).status_code == 302
    response = client.post(clinician_url(sw, "sessions/new/"), session_post(sw, starts="11:00", ends="13:00"))
    assert "overlaps the clinician&#x27;s session" in response.content.decode()
    assert ScheduleTemplate.objects.count() == 1


def test_the_desk_ends_a_session(sw: SchedulingWorld) -> None:
    template = a_session(sw)
    client = client_for(sw.world.scheduler)
    end_url = clinician_url(sw, f"sessions/{template.pk}/end/")
    assert client.get(end_url).status_code == 200
    last_day = timezone.now().date() + dt.timedelta(days=7)
    assert client.post(end_url, {"last_day": "not a date"}).status_code == 200
    assert client.post(end_url, {"last_day": "2001-01-01"}).status_code == 200
    template.refresh_from_db()
    assert template.valid_until is None
    assert client.post(end_url, {"last_day": last_day.isoformat()}).status_code == 302
    template.refresh_from_db()
    assert template.valid_until == last_day
    assert AuditEvent.objects.filter(action="schedules.template_end").count() == 1
    # Slots exist, so there is no removing it.
    assert client.post(clinician_url(sw, f"sessions/{template.pk}/remove/")).status_code == 302
    assert ScheduleTemplate.objects.filter(pk=template.pk).exists()


# Blocks -------------------------------------------------------------------------------------


def block_post(start: dt.datetime, hours: int = 2, **changes: Any) -> dict[str, Any]:
    end = start + dt.timedelta(hours=hours)
    data = {
        "kind": "leave",
        "campus": "",
        "starts_on": start.date().isoformat(),
        "starts_time": f"{start:%H:%M}",
        "ends_on": end.date().isoformat(),
        "ends_time": f"{end:%H:%M}",
        "reason": "Conference",
    }
    data.update(changes)
    return data


def test_a_block_lists_the_booked_visits_inside_it(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    free = make_slot(sw, local_moment(sw.world.campus, 10, 10))
    book(sw, slot)
    client = client_for(sw.world.scheduler)
    post = block_post(local_moment(sw.world.campus, 10, 8), hours=4, campus=sw.world.campus.pk)
    response = client.post(clinician_url(sw, "blocks/new/"), post)
    block = ScheduleBlock.objects.get()
    assert response["Location"] == clinician_url(sw, f"blocks/{block.pk}/")
    assert block.starts_at == local_moment(sw.world.campus, 10, 8)
    free.refresh_from_db()
    assert free.status == Slot.Status.BLOCKED
    page = client.get(response["Location"]).content.decode()
    assert "Alice Able" in page
    assert "9:00 AM" in page
    # The read is in Alice's own access log.
    event = AuditEvent.objects.get(action="schedules.view")
    assert event.patient_id == sw.world.alice.pk


def test_a_clinician_blocks_and_frees_their_own_time(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 5, 9))
    carol = client_for(sw.world.clinician)
    response = carol.post(
        clinician_url(sw, "blocks/new/"),
        block_post(local_moment(sw.world.campus, 5, 8), campus=sw.world.campus.pk),
    )
    assert response.status_code == 302
    block = ScheduleBlock.objects.get()
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BLOCKED
    remove = clinician_url(sw, f"blocks/{block.pk}/remove/")
    assert carol.get(remove).status_code == 405
    dave = client_for(sw.world.unassigned_staff)
    assert dave.post(remove).status_code == 404
    assert carol.post(remove).status_code == 302
    slot.refresh_from_db()
    assert slot.status == Slot.Status.OPEN
    assert not ScheduleBlock.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"ends_on": "2000-01-01"},
        {"starts_time": "nope"},
        {"kind": "holiday"},
        {"campus": MISSING},
        {"reason": "x" * 201},
        {"reason": "a\x00b"},
    ],
)
def test_bad_blocks_change_nothing(sw: SchedulingWorld, changes: dict[str, Any]) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 5, 9))
    client = client_for(sw.world.scheduler)
    post = {**block_post(local_moment(sw.world.campus, 5, 8), campus=sw.world.campus.pk), **changes}
    response = client.post(clinician_url(sw, "blocks/new/"), post)
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert not ScheduleBlock.objects.exists()
    slot.refresh_from_db()
    assert slot.status == Slot.Status.OPEN


def test_a_block_longer_than_a_year_is_refused(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)
    post = block_post(local_moment(sw.world.campus, 5, 8), hours=24 * 370, campus=sw.world.campus.pk)
    response = client.post(clinician_url(sw, "blocks/new/"), post)
    assert "at most one year" in response.content.decode()
    assert not ScheduleBlock.objects.exists()


# Visit types --------------------------------------------------------------------------------


def visit_type_post(sw: SchedulingWorld, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Annual physical",
        "slug": "annual-physical",
        "description": "A yearly check.",
        "department": sw.department.pk,
        "duration_minutes": "30",
        "mode": "in_person",
        "self_schedulable": "on",
        "preparation": "Fast for 8 hours.",
        "active": "on",
    }
    data.update(changes)
    return data


def test_the_desk_adds_and_changes_visit_types(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)
    assert client.get("/staff/schedules/visit-types/").status_code == 200
    assert client.post("/staff/schedules/visit-types/new/", visit_type_post(sw)).status_code == 302
    physical = VisitType.objects.get(slug="annual-physical")
    assert physical.self_schedulable and not physical.established_only
    edit = f"/staff/schedules/visit-types/{physical.pk}/"
    assert client.get(edit).status_code == 200
    changed = visit_type_post(sw, name="Yearly physical", self_schedulable="")
    assert client.post(edit, changed).status_code == 302
    physical.refresh_from_db()
    assert (physical.name, physical.self_schedulable) == ("Yearly physical", False)
    actions = list(
        AuditEvent.objects.filter(action__startswith="schedules.visit_type").values_list("action", flat=True)
    )
    assert actions == ["schedules.visit_type_add", "schedules.visit_type_change"]
    assert client.get(f"/staff/schedules/visit-types/{MISSING}/").status_code == 404


def test_a_visit_type_cannot_outgrow_the_sessions_that_offer_it(sw: SchedulingWorld) -> None:
    a_session(sw)  # 30-minute slots offering the follow-up
    client = client_for(sw.world.scheduler)
    edit = f"/staff/schedules/visit-types/{sw.follow_up.pk}/"
    post = visit_type_post(sw, slug="follow-up", duration_minutes="45")
    response = client.post(edit, post)
    assert "shorter slots than 45 minutes" in response.content.decode()
    sw.follow_up.refresh_from_db()
    assert sw.follow_up.duration_minutes == 30


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "follow-up"},
        {"slug": "Not a slug!"},
        {"duration_minutes": "0"},
        {"name": ""},
        {"mode": "phone"},
    ],
)
def test_bad_visit_types_change_nothing(sw: SchedulingWorld, changes: dict[str, Any]) -> None:
    client = client_for(sw.world.scheduler)
    response = client.post("/staff/schedules/visit-types/new/", visit_type_post(sw, **changes))
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert VisitType.objects.count() == 3


# Queries ------------------------------------------------------------------------------------


def test_the_clinician_page_runs_a_fixed_number_of_queries(sw: SchedulingWorld) -> None:
    client = client_for(sw.world.scheduler)

    def grow(weekdays: range) -> int:
        for weekday in weekdays:
            template = ScheduleTemplate.objects.create(
                practitioner=sw.clinician,
                campus=sw.world.campus,
                department=sw.department,
                weekday=weekday,
                starts=dt.time(8),
                ends=dt.time(12),
                slot_minutes=30,
                valid_from=timezone.now().date(),
            )
            template.visit_types.set([sw.follow_up, sw.video])
            generate_slots([template], days=14)
            ScheduleBlock.objects.create(
                practitioner=sw.clinician,
                starts_at=local_moment(sw.world.campus, 3 + weekday, 8),
                ends_at=local_moment(sw.world.campus, 3 + weekday, 9),
            )
        client.get(clinician_url(sw))  # the session's first request notes its activity
        return query_count(lambda: client.get(clinician_url(sw)))

    small = grow(range(1))
    large = grow(range(1, 5))
    assert small == large
