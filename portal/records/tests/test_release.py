"""Held results: invisible to the patient until released or their hold ends; release, review, the queue."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.patients.access import decide
from portal.patients.models import Patient
from portal.records import actions
from portal.records.access import visible_reports
from portal.records.models import ReleasePreference, ResultReport
from portal.records.tasks import notify_when_hold_ends, schedule_hold_end
from portal.records.tests.support import make_panel
from portal.test import World, make_patient, query_count

pytestmark = pytest.mark.django_db


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def held(world: World, name: str = "Thyroid panel", hours: float = 24, **fields: Any) -> ResultReport:
    patient = fields.pop("patient", world.alice)
    return make_panel(
        patient,
        name,
        available_at=timezone.now() + dt.timedelta(hours=hours),
        hold_reason="Clinician review first",
        **fields,
    )


def patient_sees(world: World, report: ResultReport) -> bool:
    access = decide(world.alice_user, world.alice)
    assert access is not None
    return visible_reports(access).filter(pk=report.pk).exists()


def results_page(world: World) -> str:
    client = Client()
    client.force_login(world.alice_user)
    page = client.get(reverse("records:results"))
    assert page.status_code == 200
    return page.content.decode()


def release_url(report: ResultReport) -> str:
    return reverse("staff_records:release", args=[report.patient_id, report.pk])


def review_url(report: ResultReport) -> str:
    return reverse("staff_records:review", args=[report.patient_id, report.pk])


def test_a_held_result_is_hidden_until_released_then_shown(client: Client, world: World) -> None:
    report = held(world)
    assert not patient_sees(world, report)
    assert "Thyroid panel" not in results_page(world)

    signed_in(client, world.clinician)
    response = client.post(release_url(report))
    assert response.status_code == 302
    assert response["Location"] == reverse("staff_records:record", args=[world.alice.pk])

    report.refresh_from_db()
    assert not report.is_held and report.released_by == world.clinician
    assert patient_sees(world, report)
    assert "Thyroid panel" in results_page(world)
    event = AuditEvent.objects.get(action="records.result_release")
    assert (event.patient_id, event.actor_id, event.object_id) == (
        world.alice.pk,
        world.clinician.pk,
        str(report.pk),
    )
    titles = set(Notification.objects.values_list("recipient_id", "title"))
    assert titles == {(world.alice_user.pk, "New test result"), (world.proxy_user.pk, "New test result")}


def test_a_held_result_shows_once_its_hold_ends(world: World) -> None:
    report = held(world, hours=1)
    assert not patient_sees(world, report)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert patient_sees(world, report)


def test_the_patient_is_told_when_a_hold_runs_out(world: World) -> None:
    report = held(world, hours=1)
    assert notify_when_hold_ends.call(report.pk) is False  # still held: nobody told
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert notify_when_hold_ends.call(report.pk) is True
    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {
        world.alice_user.pk,
        world.proxy_user.pk,
    }


def test_the_hold_notice_run_again_tells_nobody_twice(world: World) -> None:
    # What a worker killed after telling, before marking the task done, leads to.
    report = held(world, hours=1)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert notify_when_hold_ends.call(report.pk) is True
    assert notify_when_hold_ends.call(report.pk) is False
    assert Notification.objects.count() == 2  # the patient and her proxy, once each


def test_a_correction_notice_does_not_stand_for_the_hold_notice(world: World) -> None:
    report = held(world, hours=1)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    Notification.objects.create(
        recipient=world.alice_user,
        patient=world.alice,
        title="A result was corrected",
        link=reverse("records:result", args=[report.pk]),
    )
    assert notify_when_hold_ends.call(report.pk) is True


def test_the_hold_notice_run_again_tells_nobody_twice_in_spanish_either(world: World) -> None:
    Patient.objects.filter(pk=world.alice.pk).update(preferred_language="es")
    report = held(world, hours=1)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert notify_when_hold_ends.call(report.pk) is True
    assert notify_when_hold_ends.call(report.pk) is False
    assert Notification.objects.filter(title="Nuevo resultado de prueba").count() == 2


def test_no_second_notice_when_a_clinician_released_early(world: World) -> None:
    report = held(world, hours=1)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now(), released_by=world.clinician)
    assert notify_when_hold_ends.call(report.pk) is False
    assert not Notification.objects.exists()


def test_the_hold_notice_waits_for_review_when_the_patient_asked(world: World) -> None:
    ReleasePreference.objects.create(patient=world.alice, category="lab", wait_for_review=True)
    report = held(world, hours=1)
    ResultReport.objects.filter(pk=report.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert notify_when_hold_ends.call(report.pk) is False


def test_a_held_entry_queues_its_notice_for_when_the_hold_ends(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    report = held(world, hours=5)
    with mock.patch("portal.records.tasks.notify_when_hold_ends") as task:
        task.get_backend.return_value.supports_defer = True
        with django_capture_on_commit_callbacks(execute=True):
            schedule_hold_end(report)
    task.using.assert_called_once_with(run_after=report.available_at)
    task.using.return_value.enqueue.assert_called_once_with(report.pk)


def test_releasing_a_released_result_changes_nothing(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    signed_in(client, world.clinician)
    response = client.post(release_url(report), {"back": "result"})
    assert response["Location"] == reverse("staff_records:result", args=[world.alice.pk, report.pk])
    report.refresh_from_db()
    assert report.released_by is None
    assert not AuditEvent.objects.filter(action="records.result_release").exists()
    assert not Notification.objects.exists()


def test_release_and_review_only_accept_posts(client: Client, world: World) -> None:
    report = held(world)
    signed_in(client, world.clinician)
    assert client.get(release_url(report)).status_code == 405
    assert client.get(review_url(report)).status_code == 405
    report.refresh_from_db()
    assert report.is_held


@pytest.mark.parametrize("persona", ["unassigned_staff", "scheduler", "alice_user", "proxy_user", "bob_user"])
def test_only_the_care_team_releases(client: Client, world: World, persona: str) -> None:
    report = held(world)
    signed_in(client, getattr(world, persona))
    assert client.post(release_url(report)).status_code == 404
    assert client.post(review_url(report)).status_code == 404
    report.refresh_from_db()
    assert report.is_held and report.reviewed_at is None


def test_anonymous_visitors_cannot_release(client: Client, world: World) -> None:
    report = held(world)
    response = client.post(release_url(report))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    report.refresh_from_db()
    assert report.is_held


def test_another_patients_report_under_this_patient_is_missing(client: Client, world: World) -> None:
    bobs = held(world, patient=world.bob)
    signed_in(client, world.clinician)
    url = reverse("staff_records:release", args=[world.alice.pk, bobs.pk])
    assert client.post(url).status_code == 404
    bobs.refresh_from_db()
    assert bobs.is_held


def test_review_marks_the_result_reviewed(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    signed_in(client, world.clinician)
    response = client.post(review_url(report), {"back": "held"})
    assert response["Location"] == reverse("staff_records:held")
    report.refresh_from_db()
    assert report.reviewed_by == world.clinician and report.reviewed_at is not None
    assert AuditEvent.objects.filter(action="records.result_review").count() == 1
    client.post(review_url(report))
    assert AuditEvent.objects.filter(action="records.result_review").count() == 1
    assert not Notification.objects.exists()  # the patient already saw it


def test_a_patient_who_waits_for_review_sees_the_result_after_review(client: Client, world: World) -> None:
    ReleasePreference.objects.create(patient=world.alice, category="lab", wait_for_review=True)
    report = make_panel(world.alice)
    assert not patient_sees(world, report)
    signed_in(client, world.clinician)
    client.post(review_url(report))
    assert patient_sees(world, report)
    assert Notification.objects.filter(recipient=world.alice_user, title="New test result").exists()


def test_releasing_for_a_patient_who_waits_for_review_does_not_notify_yet(
    client: Client, world: World
) -> None:
    ReleasePreference.objects.create(patient=world.alice, category="lab", wait_for_review=True)
    report = held(world)
    signed_in(client, world.clinician)
    client.post(release_url(report))
    assert not patient_sees(world, report)
    assert not Notification.objects.exists()


def test_staff_see_held_results_and_the_reason(client: Client, world: World) -> None:
    report = held(world)
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:result", args=[world.alice.pk, report.pk])).content.decode()
    assert "Held until" in page and "Clinician review first" in page and "Release now" in page
    assert AuditEvent.objects.filter(action="records.staff_result_view", object_id=str(report.pk)).exists()


# The held-results queue ------------------------------------------------------------------


def test_the_queue_lists_held_results_of_the_care_teams_patients_oldest_first(
    client: Client, world: World
) -> None:
    newer = held(world, "Newer panel")
    older = held(world, "Older panel")
    ResultReport.objects.filter(pk=older.pk).update(issued_at=newer.issued_at - dt.timedelta(days=1))
    make_panel(world.alice, "Released panel")
    held(world, "Bob panel", patient=world.bob)
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:held"))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("Older panel") < text.index("Newer panel")
    assert "Released panel" not in text and "Bob panel" not in text
    event = AuditEvent.objects.get(action="records.staff_held_queue_view")
    assert event.detail["patients"] == [world.alice.pk]


@pytest.mark.parametrize("persona", ["unassigned_staff", "scheduler"])
def test_staff_outside_the_care_team_see_no_held_results(client: Client, world: World, persona: str) -> None:
    held(world)
    signed_in(client, getattr(world, persona))
    page = client.get(reverse("staff_records:held"))
    assert page.status_code == 200
    assert b"Thyroid panel" not in page.content


@pytest.mark.parametrize("persona", ["alice_user", "proxy_user"])
def test_patients_have_no_held_queue(client: Client, world: World, persona: str) -> None:
    signed_in(client, getattr(world, persona))
    assert client.get(reverse("staff_records:held")).status_code == 404


def test_the_queue_costs_the_same_with_more_held_results(client: Client, world: World) -> None:
    others = [make_patient(f"2000000{number}", f"P{number}", "Other", world.campus) for number in range(5)]
    for patient in others:
        patient.care_relationships.create(care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    signed_in(client, world.clinician)

    def queue(count: int) -> int:
        ResultReport.objects.all().delete()
        for number in range(count):
            held(world, f"Panel {number}", patient=others[number % 5] if number % 2 else world.alice)
        return query_count(lambda: client.get(reverse("staff_records:held")))

    client.get(reverse("staff_records:held"))  # the first request also sets up the session
    assert queue(5) == queue(50)


def test_an_ended_care_relationship_leaves_the_queue(client: Client, world: World) -> None:
    held(world)
    world.alice.care_relationships.update(ends_on=dt.date(2021, 1, 1))
    signed_in(client, world.clinician)
    assert b"Thyroid panel" not in client.get(reverse("staff_records:held")).content


def test_the_release_action_reports_whether_it_changed_anything(world: World) -> None:
    report = held(world)
    access = decide(world.clinician, world.alice)
    assert access is not None
    assert actions.do_release_result(Actor(user=world.clinician), access, report) is True
    assert actions.do_release_result(Actor(user=world.clinician), access, report) is False
    assert AuditEvent.objects.filter(action="records.result_release").count() == 1
