"""Edges where an adolescent's confidential care could reach a parent indirectly: the access log,
notifications about corrections, a note's visit; and a trend URL that PostgreSQL would refuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.notifications.models import Notification
from portal.patients.access import decide
from portal.records import actions
from portal.records.models import ClinicalNote, Observation, ResultReport, ShareLink
from portal.records.sharing import do_record_share_open
from portal.records.tests.support import make_note, make_panel, make_visit
from portal.records.tests.test_release_rules import adolescent
from portal.test import World

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_a_parent_does_not_see_whom_a_teenager_shares_with(world: World) -> None:
    teen, teen_user, parent = adolescent(world)
    link = ShareLink.objects.create(
        patient=teen,
        created_by=teen_user,
        token_digest="0" * 64,
        recipient="Downtown youth clinic",
        sections=["results"],
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    do_record_share_open(Actor(user=None, client_ip="127.0.0.1"), link, "opened")
    teen_log = signed_in(teen_user).get(reverse("audit:access_log")).content.decode()
    assert "Downtown youth clinic" in teen_log
    parent_log = signed_in(parent).get(reverse("audit:access_log")).content.decode()
    assert "Downtown youth clinic" not in parent_log
    assert "share link" not in parent_log


def test_a_parent_is_not_told_of_a_correction_in_a_confidential_report(world: World) -> None:
    teen, _teen_user, parent = adolescent(world)
    report = make_panel(teen, "Sexual health screen", sensitivity="sexual-health")
    # Imports label the report; its values may carry no label of their own.
    Observation.objects.filter(report=report).update(sensitivity="")
    value = Observation.objects.filter(report=report).first()
    assert value is not None
    access = decide(world.clinician, teen)
    assert access is not None
    change = actions.ObservationChange(Decimal("4.0"), "", "mmol/L", Decimal("3.5"), Decimal("5.1"))
    actions.do_correct_observation(
        Actor(user=world.clinician), access, value, change, "Lab sent a correction"
    )
    told = set(Notification.objects.values_list("recipient_id", flat=True))
    assert teen.account_id in told
    assert parent.pk not in told


def test_a_note_does_not_reveal_a_confidential_visit(world: World) -> None:
    teen, teen_user, parent = adolescent(world)
    visit = make_visit(teen, reason="Counselling", sensitivity="mental-health")
    note = make_note(teen, "School letter", encounter=visit)
    url = reverse("records:note", args=[note.pk])
    assert "Counselling" not in signed_in(parent).get(url).content.decode()
    assert reverse("records:visit", args=[visit.pk]) not in signed_in(parent).get(url).content.decode()
    assert reverse("records:visit", args=[visit.pk]) in signed_in(teen_user).get(url).content.decode()


def test_a_trend_url_with_a_nul_is_a_plain_404(world: World) -> None:
    response = signed_in(world.alice_user).get("/record/results/trend/%00/")
    assert response.status_code == 404


def test_staff_enter_a_confidential_result_and_note_the_parent_never_sees(world: World) -> None:
    from portal.records.tests.test_staff_records import result_data

    teen, teen_user, parent = adolescent(world)
    clinician = signed_in(world.clinician)
    clinician.post(
        reverse("staff_records:new_result", args=[teen.pk]),
        result_data(name="Chlamydia screen", sensitivity="sexual-health"),
    )
    clinician.post(
        reverse("staff_records:new_note", args=[teen.pk]),
        {
            "kind": "visit-note",
            "title": "Counselling session",
            "body": "Talked.",
            "sensitivity": "mental-health",
        },
    )
    report = ResultReport.objects.get(patient=teen)
    assert report.sensitivity == "sexual-health"
    assert set(report.observations.values_list("sensitivity", flat=True)) == {"sexual-health"}
    assert ClinicalNote.objects.get(patient=teen).sensitivity == "mental-health"
    for user, sees in ((teen_user, True), (parent, False)):
        client = signed_in(user)
        assert ("Chlamydia screen" in client.get(reverse("records:results")).content.decode()) is sees
        assert ("Counselling session" in client.get(reverse("records:notes")).content.decode()) is sees
    assert not Notification.objects.filter(recipient=parent).exists()
