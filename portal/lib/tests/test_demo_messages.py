"""The demo's conversations: every state the messaging pages show, in the right inboxes, seeded once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db.models import Model
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.accounts.models import User
from portal.lib.seeding.demo_messages import REPLY_TEMPLATES, ROCHESTER, Clock, seed_demo_messages
from portal.lib.seeding.demo_users import create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.messaging.access import staff_pools
from portal.messaging.models import (
    Attachment,
    Message,
    Pharmacy,
    Referral,
    RefillRequest,
    ReplyTemplate,
    StaffNote,
    Thread,
    Topic,
)
from portal.notifications.models import Notification, OutboxMessage
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import pool_access
from portal.patients.models import Patient

pytestmark = pytest.mark.django_db
SEEDED: list[type[Model]] = [
    Thread, Message, Attachment, Pharmacy, RefillRequest, Referral, ReplyTemplate, StaffNote,
    Notification, OutboxMessage, User,
]  # fmt: skip
STAFF = ("demo-clinician", "demo-billing", "demo-scheduler")


@pytest.fixture
def demo(settings: Settings, tmp_path: Path) -> dt.datetime:
    settings.MEDIA_ROOT = tmp_path / "media"
    seed_organization()
    create_demo_users()
    now = timezone.now()
    assert seed_demo_messages(now) == 9
    return now


def counts() -> list[int]:
    return [model._default_manager.count() for model in SEEDED]


def test_jamie_has_a_conversation_in_every_state_a_refill_and_referrals(demo: dt.datetime) -> None:
    jamie = Patient.objects.get(account__username="demo-patient")
    threads = {thread.subject: thread for thread in Thread.objects.filter(patient=jamie)}
    assert len(threads) == 7
    answered = threads["Blood pressure readings after the dose change"]
    assert answered.status == Thread.Status.WAITING_ON_PATIENT
    last = answered.messages.order_by("created_at", "pk").last()
    assert last is not None and last.from_staff and last.read_at is None
    unread = Notification.objects.filter(
        recipient=jamie.account, link__contains=f"/{answered.pk}/", read_at=None
    )
    assert unread.count() == 1
    photo = Attachment.objects.get(message__thread=answered)
    assert photo.content_type == "image/png" and photo.file.read(8) == b"\x89PNG\r\n\x1a\n"
    waiting = threads["Question about my cholesterol result"]
    assert waiting.status == Thread.Status.NEW and waiting.due_at is not None and waiting.due_at > demo
    assert threads["Letter for travelling with my medicines"].status == Thread.Status.CLOSED
    billing = threads["Question about my statement"]
    assert billing.topic == Topic.BILLING and billing.is_overdue(demo)
    # Spread over the last weeks, in order, none in the future.
    for thread in threads.values():
        times = list(thread.messages.order_by("pk").values_list("created_at", flat=True))
        assert times == sorted(times) and times[-1] == thread.last_message_at <= demo
        assert thread.created_at == times[0]
    assert min(thread.created_at for thread in threads.values()) < demo - dt.timedelta(days=30)
    # A pharmacy, an approved refill and two referrals, each with its conversation.
    assert Pharmacy.objects.filter(patient=jamie, preferred=True).count() == 1
    refill = RefillRequest.objects.get(patient=jamie)
    assert refill.status == RefillRequest.Status.APPROVED and refill.items.count() == 1
    assert refill.thread is not None and refill.thread.status == Thread.Status.CLOSED
    assert refill.decided_at is not None and refill.created_at < refill.decided_at < demo
    referrals = {referral.specialty.slug: referral for referral in Referral.objects.filter(patient=jamie)}
    assert referrals["orthopedics"].status == Referral.Status.REQUESTED
    approved = referrals["dermatology"]
    assert approved.status == Referral.Status.APPROVED and approved.valid_until is not None
    assert approved.valid_until > demo.date()


def test_every_team_has_a_nurse_and_the_demo_staff_open_the_threads_in_their_inbox(demo: dt.datetime) -> None:
    for team in CareTeam.objects.filter(kind=CareTeam.Kind.CLINICAL):
        assert team.members.filter(role=Practitioner.Role.NURSE).exists(), team.slug
    staff = {name: User.objects.get(username=name) for name in STAFF}
    pools = {name: set(staff_pools(user).values_list("slug", flat=True)) for name, user in staff.items()}
    assert "rochester-family-medicine" in pools["demo-clinician"]
    assert pools["demo-billing"] == {"billing-office"}
    assert pools["demo-scheduler"] == {"rochester-scheduling"}
    for thread in Thread.objects.select_related("pool", "patient"):
        workers = [user for name, user in staff.items() if thread.pool.slug in pools[name]]
        assert workers, f"nobody in the demo works {thread.pool}"
        assert all(pool_access(user, thread.patient, thread.pool) is not None for user in workers)
    inhaler = Thread.objects.get(patient__given_name="Mia", patient__family_name="Brooks")
    assert inhaler.started_by.username == "demo-parent"
    assert inhaler.status == Thread.Status.WAITING_ON_PATIENT
    walter = Thread.objects.get(patient__given_name="Walter", patient__family_name="Brooks")
    assert walter.pool.slug == "rochester-scheduling" and walter.status == Thread.Status.NEW
    names = set(ReplyTemplate.objects.values_list("name", flat=True))
    assert names == {name for name, _body in REPLY_TEMPLATES}


def test_seeding_again_adds_nothing(demo: dt.datetime) -> None:
    before = counts()
    create_demo_users()
    assert seed_demo_messages() == 0
    assert counts() == before


@pytest.mark.parametrize("hour", range(24))
def test_days_ago_are_rochester_calendar_days_across_a_clock_change(hour: int) -> None:
    # Seeded on 25 November at 05:05 UTC, "24 days ago" at 21:00 came out after "23 days
    # ago" at 10:45: counted in UTC, both fell on 1 November, the day the clocks went back.
    now = dt.datetime(2026, 11, 25, hour, 5, tzinfo=dt.UTC)
    clock = Clock(now)
    today = now.astimezone(ROCHESTER).date()
    earlier, later = clock.ago(24, 21, 0), clock.ago(23, 10, 45)
    assert earlier.astimezone(ROCHESTER).date() == today - dt.timedelta(days=24)
    assert later.astimezone(ROCHESTER).date() == today - dt.timedelta(days=23)
    assert earlier < later
