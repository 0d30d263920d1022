"""The demo's video visits and e-visits: joinable at once, with the demo clinician, seeded once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing.models import LedgerEntry, PriceItem, ServiceLine
from portal.lib.seeding.demo_telehealth import Added, seed_demo_telehealth
from portal.lib.seeding.demo_users import FAMILY_TEAM, DemoRefused, create_demo_users
from portal.lib.seeding.evisit_conditions import CONDITIONS
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.schedules import seed_schedules
from portal.organization.models import Campus, CareTeam
from portal.patients.access import decide, pool_access, visit_access
from portal.patients.models import Patient
from portal.records.models import ClinicalNote
from portal.scheduling.access import may_see_appointments
from portal.scheduling.models import Appointment, Mode, Questionnaire, VisitType
from portal.telehealth import video
from portal.telehealth.access import is_joinable, video_visit_of
from portal.telehealth.evisit_access import review_queue
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto, VideoVisit

pytestmark = pytest.mark.django_db
SEEDED: list[type[Model]] = [
    Appointment, EVisit, EVisitCondition, EVisitPhoto, Questionnaire, VisitType, ServiceLine, LedgerEntry,
    PriceItem,
]  # fmt: skip


@pytest.fixture
def demo(settings: Settings, tmp_path: Path) -> dt.datetime:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_SLOT_HORIZON_DAYS = 4
    seed_organization()
    create_demo_users()
    now = timezone.now()
    seed_schedules({campus.slug: campus for campus in Campus.objects.all()}, now.date())
    assert seed_demo_telehealth(now) == Added(video_visits=3, conditions=4, evisits=2)
    return now


def user(username: str) -> User:
    return User.objects.get(username=username)


def video_visits(given_name: str) -> list[Appointment]:
    return list(
        Appointment.objects.filter(patient__given_name=given_name, mode=Mode.VIDEO, source_id__contains=":video-")
        .select_related("practitioner", "visit_type")
        .order_by("starts_at")
    )  # fmt: skip


def test_jamie_and_mia_can_join_a_video_visit_with_the_demo_clinician_at_once(demo: dt.datetime) -> None:
    clinician = user("demo-clinician")
    jamie_soon, jamie_tomorrow = video_visits("Jamie")
    (mia_soon,) = video_visits("Mia")
    for appointment in (jamie_soon, jamie_tomorrow, mia_soon):
        assert appointment.practitioner.user == clinician
        assert appointment.is_video and appointment.visit_type.is_video
        assert appointment.status == Appointment.Status.BOOKED
    for appointment in (jamie_soon, mia_soon):
        assert dt.timedelta(minutes=9) <= appointment.starts_at - demo <= dt.timedelta(minutes=10)
        assert is_joinable(appointment, demo)
    assert dt.timedelta(hours=18) <= jamie_tomorrow.starts_at - demo <= dt.timedelta(hours=30)
    assert not is_joinable(jamie_tomorrow, demo)
    # Nobody else may book the clinician while they are in the fitted-in visit.
    assert not clinician.practitioner.slots.filter(
        status="open", starts_at__lt=jamie_soon.ends_at, ends_at__gt=jamie_soon.starts_at
    ).exists()
    # The clinician hosts both; the parent joins for Mia as her proxy.
    for appointment in (jamie_soon, mia_soon):
        host = visit_access(
            clinician, appointment.patient, booked_with=appointment.practitioner_id, invited=False
        )
        assert host is not None
    parent_for_mia = decide(user("demo-parent"), mia_soon.patient)
    assert parent_for_mia is not None and may_see_appointments(parent_for_mia)
    waiting = video.do_enter_waiting_room(Actor(user=user("demo-parent")), parent_for_mia, mia_soon)
    assert waiting.role == waiting.Role.PROXY and waiting.status == waiting.Status.WAITING


def test_the_demo_sign_ins_find_them_on_their_pages(demo: dt.datetime, client: Client) -> None:
    jamie_soon = video_visits("Jamie")[0]
    client.force_login(user("demo-patient"))
    appointments = client.get(reverse("appointments:list"))
    assert reverse("video:visit", args=[jamie_soon.pk]).encode() in appointments.content
    assert client.get(reverse("video:visit", args=[jamie_soon.pk])).status_code == 200
    answered = EVisit.objects.get(status=EVisit.Status.COMPLETED)
    page = client.get(reverse("evisits:detail", args=[answered.pk]))
    assert page.status_code == 200 and b"Honey in warm water" in page.content
    client.force_login(user("demo-clinician"))
    assert (
        reverse("staff_video:visit", args=[jamie_soon.pk]).encode()
        in client.get(reverse("staff_video:today")).content
    )
    waiting = EVisit.objects.get(status=EVisit.Status.SUBMITTED)
    assert (
        reverse("staff_evisits:review", args=[waiting.pk]).encode()
        in client.get(reverse("staff_evisits:queue")).content
    )


def test_the_clinic_offers_four_e_visit_conditions_with_sound_red_flags(demo: dt.datetime) -> None:
    team = CareTeam.objects.get(slug=FAMILY_TEAM)
    assert team.members.filter(user__username="demo-clinician").exists()
    conditions = {condition.slug: condition for condition in EVisitCondition.objects.all()}
    assert list(conditions) == [spec.slug for spec in CONDITIONS]
    assert list(conditions) == ["cold-and-flu", "urinary-symptoms", "rash", "back-pain"]
    assert conditions["urinary-symptoms"].min_age == 18 and conditions["rash"].asks_for_photos
    for condition in conditions.values():
        assert condition.questionnaire.slug == f"evisit-{condition.slug}"
        assert condition.price_item.code == "99421" and condition.price_item.price_cents == 35_00
        assert condition.review_team == team and condition.active
        questions = {item["linkId"]: item for item in condition.questionnaire.items}
        assert 5 <= len(questions) <= 8
        assert {"boolean", "choice", "integer", "text"} >= {item["type"] for item in questions.values()}
        assert condition.red_flags
        for flag in condition.red_flags:
            question = questions[flag["linkId"]]
            allowed = (
                {"yes", "no"}
                if question["type"] == "boolean"
                else {option["valueString"] for option in question.get("answerOption", [])}
            )
            assert flag["answers"] and set(flag["answers"]) <= allowed
            assert flag["advice"] in EVisitCondition.Advice.values and flag["message"]
    advice = {(c.slug, f["linkId"]): f["advice"] for c in conditions.values() for f in c.red_flags}
    assert advice[("cold-and-flu", "breathing")] == advice[("cold-and-flu", "chest")] == "emergency"
    assert advice[("urinary-symptoms", "fever_flank")] == "urgent"
    assert advice[("back-pain", "bladder")] == advice[("back-pain", "legs")] == "emergency"
    assert advice[("rash", "swelling")] == "emergency"
    assert PriceItem.objects.get(code="99422").price_cents == 55_00
    # Only urinary symptoms is confidential (sexual health, a category the clinic keeps from parents).
    assert {slug: c.sensitivity for slug, c in conditions.items() if c.sensitivity} == {
        "urinary-symptoms": "sexual-health"
    }


def test_a_category_the_clinic_does_not_keep_confidential_is_not_seeded(
    settings: Settings, tmp_path: Path
) -> None:
    settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES = frozenset({"mental-health"})
    settings.MEDIA_ROOT = tmp_path / "media"
    seed_organization()
    create_demo_users()
    seed_demo_telehealth()
    assert EVisitCondition.objects.count() == 4
    assert not EVisitCondition.objects.exclude(sensitivity="").exists()


def test_jamie_has_an_answered_charged_e_visit_and_one_waiting_for_the_clinician(demo: dt.datetime) -> None:
    jamie = Patient.objects.get(account__username="demo-patient")
    answered = EVisit.objects.get(patient=jamie, status=EVisit.Status.COMPLETED)
    assert answered.condition.slug == "cold-and-flu" and answered.assessment and answered.plan
    clinician = user("demo-clinician")
    assert answered.reviewer == clinician
    assert answered.submitted_at and answered.claimed_at and answered.replied_at
    assert answered.submitted_at < answered.claimed_at < answered.replied_at < demo
    line = answered.service_line
    assert line is not None and line.form_key == f"evisit-{answered.pk}"
    # Charged once, at the self-pay price the patient was shown.
    price = answered.condition.price_item.self_pay_price_cents
    assert answered.price_cents == price == 21_00
    assert (line.code, line.charge_cents, line.patient_cents) == ("99421", price, price)
    assert (answered.price_item.code, answered.price_code, answered.sensitivity) == ("99421", "99421", "")
    assert line.account.patient == jamie and line.account.balance_cents == price
    assert LedgerEntry.objects.get(service_line=line).amount_cents == price
    note = ClinicalNote.objects.get(patient=jamie, title__startswith="E-visit")
    assert answered.assessment in note.body and note.author == clinician.practitioner
    assert {item["linkId"] for item in answered.answers} >= {"days", "breathing", "notes"}
    waiting = EVisit.objects.get(patient=jamie, status=EVisit.Status.SUBMITTED)
    assert waiting.condition.slug == "rash" and waiting.service_line is None and not waiting.assessment
    photo = waiting.photos.get()
    assert photo.size == photo.file.size > 0 and photo.content_type == "image/jpeg"
    # The demo clinician finds it in their review queue and may open it.
    assert list(review_queue(clinician).filter(status=EVisit.Status.SUBMITTED)) == [waiting]
    assert pool_access(clinician, jamie, waiting.condition.review_team) is not None


def test_seeding_again_changes_nothing(demo: dt.datetime) -> None:
    before = counts()
    assert seed_demo_telehealth(demo + dt.timedelta(minutes=3)) == Added()
    assert counts() == before


def test_a_rerun_on_a_later_day_adds_fresh_visits_to_join_and_keeps_the_rest(demo: dt.datetime) -> None:
    later = demo + dt.timedelta(days=2, hours=1)
    assert seed_demo_telehealth(later) == Added(video_visits=3)
    jamie = video_visits("Jamie")
    assert len(jamie) == 4 and len(video_visits("Mia")) == 2
    assert sum(is_joinable(appointment, later) for appointment in jamie) == 1
    assert EVisit.objects.count() == 2 and EVisitCondition.objects.count() == 4


def test_a_rerun_after_the_call_ended_adds_a_fresh_one(demo: dt.datetime) -> None:
    soon = video_visits("Jamie")[0]
    VideoVisit.objects.filter(pk=video_visit_of(soon).pk).update(status=VideoVisit.Status.ENDED)
    assert seed_demo_telehealth(demo + dt.timedelta(minutes=5)) == Added(video_visits=1)
    assert len(video_visits("Jamie")) == 3


def test_an_edited_condition_is_kept(demo: dt.datetime) -> None:
    EVisitCondition.objects.filter(slug="rash").update(name="Skin rash", red_flags=[])
    seed_demo_telehealth(demo)
    rash = EVisitCondition.objects.get(slug="rash")
    assert (rash.name, rash.red_flags) == ("Skin rash", [])


def test_the_admin_edits_conditions_but_shows_no_visits(demo: dt.datetime, client: Client) -> None:
    root = User.objects.create_superuser("root-admin", "root@example.org", "a-long-admin-password-1")
    client.force_login(root)
    condition = EVisitCondition.objects.get(slug="rash")
    assert client.get(reverse("admin:telehealth_evisitcondition_changelist")).status_code == 200
    page = client.get(reverse("admin:telehealth_evisitcondition_change", args=[condition.pk]))
    assert page.status_code == 200 and b"linkId" in page.content
    for model in (EVisit, EVisitPhoto, VideoVisit):
        assert not admin.site.is_registered(model)


def test_the_admin_refuses_red_flags_that_name_no_question_or_answer(
    demo: dt.datetime, client: Client
) -> None:
    root = User.objects.create_superuser("root-admin", "root@example.org", "a-long-admin-password-1")
    client.force_login(root)
    condition = EVisitCondition.objects.get(slug="rash")
    url = reverse("admin:telehealth_evisitcondition_change", args=[condition.pk])
    form = {
        "name": condition.name, "slug": condition.slug, "description": condition.description,
        "questionnaire": condition.questionnaire_id, "asks_for_photos": "on", "min_age": 0,
        "price_item": condition.price_item_id, "review_team": condition.review_team_id, "active": "on",
        "position": 2,
    }  # fmt: skip
    wrong = [
        [{"linkId": "nope", "answers": ["yes"], "advice": "emergency", "message": "Now."}],
        [{"linkId": "swelling", "answers": ["maybe"], "advice": "emergency", "message": "Now."}],
        [{"linkId": "itch", "answers": ["A lot"], "advice": "later", "message": "Now."}],
        [{"linkId": "itch", "answers": ["A lot"], "advice": "urgent", "message": ""}],
        {"linkId": "itch"},
        ["itch"],
    ]
    for red_flags in wrong:
        page = client.post(url, {**form, "red_flags": json.dumps(red_flags)})
        assert page.status_code == 200 and b"errorlist" in page.content
    assert client.post(url, {**form, "red_flags": "not json"}).status_code == 200
    condition.refresh_from_db()
    assert len(condition.red_flags) == 2
    fine = [{"linkId": "itch", "answers": ["a  LOT"], "advice": "urgent", "message": "See us today."}]
    assert client.post(url, {**form, "red_flags": json.dumps(fine)}).status_code == 302
    condition.refresh_from_db()
    assert condition.red_flags == fine


def test_no_demo_visits_in_production(settings: Settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(DemoRefused):
        seed_demo_telehealth()


def counts() -> list[int]:
    return [model._default_manager.count() for model in SEEDED]
