"""Edges of the scheduling rules: staff who are also patients, the desk's view of pre-check-in,
slots of ended sessions, and reminders to someone who no longer acts for the patient."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.notifications.models import OutboxMessage
from portal.notifications.outbox import deliver_due
from portal.organization.models import CareTeam, Practitioner
from portal.patients.access import decide
from portal.patients.actions import do_revoke_proxy
from portal.patients.models import Scope
from portal.scheduling.booking import do_cancel_appointment
from portal.scheduling.models import Appointment, ScheduleBlock, ScheduleTemplate, Slot
from portal.scheduling.slots import apply_block, reopen_after_block_removed, retire_template_slots
from portal.scheduling.tests.support import (
    SchedulingWorld,
    book,
    local_moment,
    make_slot,
    phoenix_campus,
    scheduling_world,
)
from portal.test import World, assert_same_as_missing, make_patient, make_staff

pytestmark = pytest.mark.django_db

MISSING = 999_999


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_a_desk_worker_who_is_a_patient_gets_no_desk_rights_on_patient_pages(sw: SchedulingWorld) -> None:
    make_patient("30000001", "Sam", "Scheduler", sw.world.campus, account=sw.world.scheduler)
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 10, 9)), patient=sw.world.bob)
    client = signed_in(sw.world.scheduler)
    for name in ("detail", "cancel", "reschedule"):
        assert_same_as_missing(
            client.get(reverse(f"appointments:{name}", args=[appointment.pk])),
            client.get(reverse(f"appointments:{name}", args=[MISSING])),
        )
    client.post(reverse("appointments:cancel", args=[appointment.pk]))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_another_campus_desk_cannot_read_pre_check_in(sw: SchedulingWorld) -> None:
    phoenix = phoenix_campus()
    desk = CareTeam.objects.create(
        slug="phx-desk", name="Phoenix desk", campus=phoenix, kind=CareTeam.Kind.SCHEDULING_DESK
    )
    phoenix_scheduler = make_staff("pia", Practitioner.Role.SCHEDULER, desk)
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 3, 9)))
    page = reverse("checkin:staff", args=[appointment.pk])
    client = signed_in(phoenix_scheduler)
    assert_same_as_missing(client.get(page), client.get(reverse("checkin:staff", args=[MISSING])))
    assert signed_in(sw.world.scheduler).get(page).status_code == 200


def end_before(template: ScheduleTemplate) -> None:
    """The weekly session ran until the week before the slot's day, then ended."""
    day = template.valid_from
    template.valid_from = day - dt.timedelta(days=14)
    template.valid_until = day - dt.timedelta(days=1)
    template.save(update_fields=["valid_from", "valid_until"])


def test_cancelling_in_an_ended_session_does_not_reopen_the_slot(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    appointment = book(sw, slot)
    template = slot.template
    end_before(template)
    access = decide(sw.world.alice_user, sw.world.alice)
    assert access is not None
    do_cancel_appointment(Actor(user=sw.world.alice_user), access, appointment)
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BLOCKED


def test_removing_a_block_leaves_an_ended_session_shut(sw: SchedulingWorld) -> None:
    slot = make_slot(sw, local_moment(sw.world.campus, 10, 9))
    template = slot.template
    end_before(template)
    retire_template_slots(template)
    Slot.objects.filter(pk=slot.pk).update(status=Slot.Status.BLOCKED)
    block = ScheduleBlock.objects.create(
        practitioner=sw.clinician, starts_at=slot.starts_at - dt.timedelta(hours=1), ends_at=slot.ends_at
    )
    apply_block(block)
    starts_at, ends_at = block.starts_at, block.ends_at
    block.delete()
    assert reopen_after_block_removed(sw.clinician.pk, starts_at, ends_at) == 0
    slot.refresh_from_db()
    assert slot.status == Slot.Status.BLOCKED


def test_a_revoked_proxy_gets_no_reminder(sw: SchedulingWorld) -> None:
    grant = sw.world.proxy_grant
    grant.scopes = [Scope.VIEW, Scope.SCHEDULE]
    grant.save(update_fields=["scopes"])
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 10, 9)))
    to_proxy = OutboxMessage.objects.filter(recipient=sw.world.proxy_user)
    assert to_proxy.count() == 4
    do_revoke_proxy(Actor.system(), grant)
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=23), tick=False):
        deliver_due()
    assert not to_proxy.filter(sent_at__isnull=False).exists()
    assert to_proxy.filter(cancelled_at__isnull=False).count() == 4
    assert OutboxMessage.objects.filter(recipient=sw.world.alice_user, sent_at__isnull=False).count() == 4


def test_a_reminder_email_does_not_name_the_visit(sw: SchedulingWorld) -> None:
    appointment = book(sw, make_slot(sw, local_moment(sw.world.campus, 10, 9)))
    with time_machine.travel(appointment.starts_at - dt.timedelta(hours=23), tick=False):
        deliver_due()
    assert mail.outbox
    for message in mail.outbox:
        assert sw.follow_up.name not in f"{message.subject} {message.body}"
        assert sw.clinician.family_name not in message.body
    in_portal = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.IN_APP).first()
    assert in_portal is not None and sw.follow_up.name in in_portal.body
    assert timezone.now() < appointment.starts_at
