"""The record in the staff workspace: the record page, entering and correcting results and notes,
and the clinic's hold rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.models import BreakGlassAccess
from portal.records.models import ClinicalNote, Correction, Observation, ReleaseHoldRule, ResultReport
from portal.records.tests.support import make_note, make_panel
from portal.test import World, assert_same_as_missing, make_staff, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654
HOLD_REASON = "Pathology results are explained by the surgeon first."


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def record_url(patient_id: Any) -> str:
    return reverse("staff_records:record", args=[patient_id])


def held_panel(world: World, hours: float = 24, **fields: Any) -> ResultReport:
    return make_panel(
        world.alice,
        "Thyroid panel",
        available_at=timezone.now() + dt.timedelta(hours=hours),
        hold_reason=fields.pop("hold_reason", "Clinician review first"),
        **fields,
    )


# The record page -------------------------------------------------------------------------


def test_the_care_team_sees_the_whole_record_with_held_results_marked(client: Client, world: World) -> None:
    make_panel(world.alice, "Lipid panel")
    held_panel(world, hold_reason="Biopsy: the surgeon calls first")
    make_note(world.alice, "Follow-up visit")
    signed_in(client, world.clinician)
    page = client.get(record_url(world.alice.pk))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Lipid panel" in text and "Thyroid panel" in text and "Follow-up visit" in text
    assert "Held until" in text and "Biopsy: the surgeon calls first" in text
    assert "Release now" in text and "Mark reviewed" in text
    assert reverse("staff_records:new_result", args=[world.alice.pk]) in text
    assert reverse("staff_records:new_note", args=[world.alice.pk]) in text
    event = AuditEvent.objects.get(action="records.staff_record_view")
    assert (event.patient_id, event.actor_id, event.actor_role) == (
        world.alice.pk,
        world.clinician.pk,
        "staff",
    )


@pytest.mark.parametrize("persona", ["unassigned_staff", "scheduler"])
def test_staff_outside_the_care_team_get_the_missing_page(client: Client, world: World, persona: str) -> None:
    report = held_panel(world)
    note = make_note(world.alice)
    value = report.observations.first()
    assert value is not None
    signed_in(client, getattr(world, persona))
    missing = client.get(record_url(MISSING))
    for name, args in [
        ("staff_records:record", [world.alice.pk]),
        ("staff_records:result", [world.alice.pk, report.pk]),
        ("staff_records:new_result", [world.alice.pk]),
        ("staff_records:new_note", [world.alice.pk]),
        ("staff_records:correct_observation", [world.alice.pk, value.pk]),
        ("staff_records:correct_note", [world.alice.pk, note.pk]),
    ]:
        assert_same_as_missing(client.get(reverse(name, args=args)), missing)
    for name in ("staff_records:release", "staff_records:review"):
        assert client.post(reverse(name, args=[world.alice.pk, report.pk])).status_code == 404
    report.refresh_from_db()
    assert report.is_held and report.reviewed_at is None
    assert AuditEvent.objects.filter(action="access.refused", actor_id=getattr(world, persona).pk).exists()


@pytest.mark.parametrize("persona", ["alice_user", "proxy_user", "bob_user"])
def test_patients_and_proxies_have_no_staff_record(client: Client, world: World, persona: str) -> None:
    signed_in(client, getattr(world, persona))
    assert client.get(record_url(world.alice.pk)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    for url in (
        record_url(world.alice.pk),
        reverse("staff_records:held"),
        reverse("staff_records:hold_rules"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_garbage_patient_ids_are_missing(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    assert client.get("/staff/records/patients/" + "9" * 30 + "/").status_code == 404
    assert client.get("/staff/records/patients/-1/").status_code == 404
    assert client.get("/staff/records/patients/abc/").status_code == 404


def test_a_staff_member_who_is_the_patient_uses_the_patient_pages(client: Client, world: World) -> None:
    world.alice.account = world.clinician
    world.alice.save()
    signed_in(client, world.clinician)
    assert client.get(record_url(world.alice.pk)).status_code == 404


def test_break_glass_access_opens_the_record_and_is_flagged(client: Client, world: World) -> None:
    BreakGlassAccess.objects.create(
        user=world.unassigned_staff,
        patient=world.alice,
        reason="Unconscious in the emergency department",
        expires_at=timezone.now() + dt.timedelta(minutes=30),
    )
    signed_in(client, world.unassigned_staff)
    page = client.get(record_url(world.alice.pk))
    assert page.status_code == 200
    assert b"emergency access" in page.content
    assert AuditEvent.objects.get(action="records.staff_record_view").flagged


def test_the_record_page_costs_the_same_with_more_rows(client: Client, world: World) -> None:
    signed_in(client, world.clinician)

    def record_with(count: int) -> int:
        ResultReport.objects.all().delete()
        ClinicalNote.objects.all().delete()
        Correction.objects.all().delete()
        for number in range(count):
            report = make_panel(
                world.alice, f"Panel {number}", values=[("2345-7", "Glucose", "98", "mg/dL", "70", "99")]
            )
            if number % 2:
                ResultReport.objects.filter(pk=report.pk).update(
                    reviewed_at=timezone.now(), reviewed_by=world.clinician
                )
            note = make_note(world.alice, f"Note {number}")
            Correction.objects.create(
                patient=world.alice,
                item_type="records.clinicalnote",
                item_id=note.pk,
                previous={"body": "x"},
                reason="Typo",
                corrected_by=world.clinician,
            )
        return query_count(lambda: client.get(record_url(world.alice.pk)))

    client.get(record_url(world.alice.pk))  # the first request also sets up the session
    assert record_with(5) == record_with(50)


# Entering a result -----------------------------------------------------------------------


def campus_time(moment: dt.datetime) -> str:
    """What a clinician at the Rochester campus types for `moment` (the form reads campus time)."""
    return timezone.localtime(moment, ZoneInfo("America/Chicago")).strftime("%Y-%m-%dT%H:%M")


def result_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Basic metabolic panel",
        "code": "51990-0",
        "category": "lab",
        "effective_at": campus_time(timezone.now() - dt.timedelta(hours=3)),
        "status": "final",
        "ordered_by": "",
        "conclusion": "",
        "values-TOTAL_FORMS": "3",
        "values-INITIAL_FORMS": "0",
        "values-MIN_NUM_FORMS": "1",
        "values-MAX_NUM_FORMS": "30",
        "values-0-code": "2345-7",
        "values-0-name": "Glucose",
        "values-0-value": "142",
        "values-0-unit": "mg/dL",
        "values-0-range_low": "70",
        "values-0-range_high": "99",
        "values-0-interpretation": "",
        "values-1-code": "1988-5",
        "values-1-name": "C-reactive protein",
        "values-1-value": "Negative",
        "values-1-unit": "",
        "values-1-range_low": "",
        "values-1-range_high": "",
        "values-1-interpretation": "",
    }
    data.update(overrides)
    return data


def test_the_form_defaults_to_the_signed_in_clinician(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:new_result", args=[world.alice.pk]))
    assert page.status_code == 200
    assert f'value="{world.clinician.practitioner.pk}" selected'.encode() in page.content


def test_a_clinician_enters_a_result_the_patient_sees_at_once(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    practitioner = world.clinician.practitioner
    response = client.post(
        reverse("staff_records:new_result", args=[world.alice.pk]),
        result_data(ordered_by=str(practitioner.pk)),
    )
    report = ResultReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("staff_records:result", args=[world.alice.pk, report.pk])
    assert report.patient == world.alice and report.entered_by == world.clinician
    assert report.ordered_by == practitioner and report.ordered_by_name == practitioner.display_name
    assert not report.is_held and report.hold_reason == ""
    glucose, crp = report.observations.order_by("position")
    assert (
        glucose.value_number == Decimal("142") and glucose.interpretation == Observation.Interpretation.HIGH
    )
    assert crp.value_number is None and crp.value_text == "Negative"
    assert crp.interpretation == Observation.Interpretation.UNKNOWN
    assert AuditEvent.objects.get(action="records.result_enter").patient_id == world.alice.pk
    titles = set(Notification.objects.values_list("recipient_id", "title"))
    assert titles == {(world.alice_user.pk, "New test result"), (world.proxy_user.pk, "New test result")}


def test_a_flag_given_by_staff_is_kept(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    client.post(
        reverse("staff_records:new_result", args=[world.alice.pk]),
        result_data(**{"values-0-interpretation": "HH"}),
    )
    assert Observation.objects.get(code="2345-7").interpretation == Observation.Interpretation.CRITICAL_HIGH


def test_the_clinics_hold_rule_applies_to_an_entered_result(client: Client, world: World) -> None:
    ReleaseHoldRule.objects.create(category="pathology", hold_hours=48, reason=HOLD_REASON)
    signed_in(client, world.clinician)
    client.post(reverse("staff_records:new_result", args=[world.alice.pk]), result_data(category="pathology"))
    report = ResultReport.objects.get()
    assert report.available_at == report.issued_at + dt.timedelta(hours=48)
    assert report.hold_reason == HOLD_REASON and report.is_held
    assert not Notification.objects.exists()
    assert AuditEvent.objects.get(action="records.result_enter").detail["held_hours"] == 48


def test_an_inactive_rule_or_another_category_does_not_hold(client: Client, world: World) -> None:
    ReleaseHoldRule.objects.create(category="lab", hold_hours=48, reason=HOLD_REASON, active=False)
    ReleaseHoldRule.objects.create(category="pathology", hold_hours=48, reason=HOLD_REASON)
    signed_in(client, world.clinician)
    client.post(reverse("staff_records:new_result", args=[world.alice.pk]), result_data(category="lab"))
    assert not ResultReport.objects.get().is_held


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": ""},
        {"category": "astrology"},
        {"effective_at": "yesterday"},
        {"effective_at": "1850-01-01T10:00"},
        {"effective_at": campus_time(timezone.now() + dt.timedelta(hours=2))},
        {"ordered_by": "999999"},
        {"ordered_by": "abc"},
        {"values-0-value": "1" * 40},
        {"values-0-value": "1.123456"},
        {"values-0-range_low": "100", "values-0-range_high": "10"},
        {"values-0-range_low": "lots"},
        {"values-0-interpretation": "ZZ"},
        {
            "values-0-code": "",
            "values-0-name": "",
            "values-0-value": "",
            "values-0-unit": "",
            "values-0-range_low": "",
            "values-0-range_high": "",
            "values-1-code": "",
            "values-1-name": "",
            "values-1-value": "",
        },
        {"values-TOTAL_FORMS": "5000"},
        {"values-TOTAL_FORMS": "nonsense"},
    ],
)
def test_bad_input_changes_nothing(client: Client, world: World, overrides: dict[str, str]) -> None:
    signed_in(client, world.clinician)
    response = client.post(
        reverse("staff_records:new_result", args=[world.alice.pk]), result_data(**overrides)
    )
    assert response.status_code == 200
    assert not ResultReport.objects.exists() and not Observation.objects.exists()


def test_a_scheduler_in_the_care_team_cannot_enter_results(client: Client, world: World) -> None:
    interpreter = make_staff("ines", Practitioner.Role.INTERPRETER, world.care_team)
    signed_in(client, interpreter)
    assert client.get(record_url(world.alice.pk)).status_code == 200  # may read
    response = client.post(reverse("staff_records:new_result", args=[world.alice.pk]), result_data())
    assert response.status_code == 403
    assert not ResultReport.objects.exists()


# Correcting a result ---------------------------------------------------------------------


def test_correcting_a_value_keeps_the_earlier_one(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    potassium = report.observations.get(code="2823-3")
    signed_in(client, world.clinician)
    url = reverse("staff_records:correct_observation", args=[world.alice.pk, potassium.pk])
    form = client.get(url)
    assert form.status_code == 200 and b'value="5.4"' in form.content
    response = client.post(
        url,
        {
            "value": "4.4",
            "unit": "mmol/L",
            "range_low": "3.5",
            "range_high": "5.1",
            "reason": "Haemolysed sample",
        },
    )
    assert response.status_code == 302
    potassium.refresh_from_db()
    report.refresh_from_db()
    assert potassium.value_number == Decimal("4.4")
    assert potassium.interpretation == Observation.Interpretation.NORMAL
    assert potassium.status == Observation.Status.CORRECTED and report.status == ResultReport.Status.CORRECTED
    correction = Correction.objects.get()
    assert (correction.item_type, correction.item_id) == ("records.observation", potassium.pk)
    assert correction.previous["value_number"] == "5.4000" and correction.previous["interpretation"] == "H"
    assert correction.previous["status"] == "final"
    assert correction.reason == "Haemolysed sample" and correction.corrected_by == world.clinician
    event = AuditEvent.objects.get(action="records.result_correct")
    assert event.detail["reason"] == "Haemolysed sample"
    assert Notification.objects.filter(recipient=world.alice_user, title="A result was corrected").exists()

    page = client.get(reverse("staff_records:result", args=[world.alice.pk, report.pk])).content.decode()
    assert "Earlier values of Potassium" in page and "Haemolysed sample" in page and "5.4000" in page
    assert "Corrected" in page


def test_a_correction_needs_a_reason(client: Client, world: World) -> None:
    potassium = make_panel(world.alice).observations.get(code="2823-3")
    signed_in(client, world.clinician)
    url = reverse("staff_records:correct_observation", args=[world.alice.pk, potassium.pk])
    response = client.post(url, {"value": "4.4", "unit": "mmol/L", "reason": ""})
    assert response.status_code == 200
    potassium.refresh_from_db()
    assert potassium.value_number == Decimal("5.4") and not Correction.objects.exists()


def test_another_patients_value_under_this_patient_is_missing(client: Client, world: World) -> None:
    bobs = make_panel(world.bob).observations.first()
    assert bobs is not None
    signed_in(client, world.clinician)
    refused = client.get(reverse("staff_records:correct_observation", args=[world.alice.pk, bobs.pk]))
    missing = client.get(reverse("staff_records:correct_observation", args=[world.alice.pk, MISSING]))
    assert_same_as_missing(refused, missing)
    posted = client.post(
        reverse("staff_records:correct_observation", args=[world.alice.pk, bobs.pk]),
        {"value": "1", "reason": "Wrong value"},
    )
    assert posted.status_code == 404 and not Correction.objects.exists()


# Notes -----------------------------------------------------------------------------------


def test_a_clinician_writes_a_note(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    response = client.post(
        reverse("staff_records:new_note", args=[world.alice.pk]),
        {"kind": "progress-note", "title": "Phone follow-up", "body": "Feeling better."},
    )
    assert response.status_code == 302
    note = ClinicalNote.objects.get()
    assert note.patient == world.alice and note.author == world.clinician.practitioner
    assert note.author_name == world.clinician.practitioner.display_name
    assert AuditEvent.objects.get(action="records.note_enter").patient_id == world.alice.pk


def test_correcting_a_note_keeps_the_earlier_text(client: Client, world: World) -> None:
    note = make_note(world.alice, "Visit", body="Takes 10 mg.")
    signed_in(client, world.clinician)
    response = client.post(
        reverse("staff_records:correct_note", args=[world.alice.pk, note.pk]),
        {"title": "Visit", "body": "Takes 5 mg.", "reason": "Dose typed wrongly"},
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.body == "Takes 5 mg." and note.status == ClinicalNote.Status.AMENDED
    correction = Correction.objects.get()
    assert correction.previous == {"title": "Visit", "body": "Takes 10 mg.", "status": "current"}
    assert Notification.objects.filter(recipient=world.alice_user, title="A note was corrected").exists()
    page = client.get(reverse("staff_records:correct_note", args=[world.alice.pk, note.pk])).content.decode()
    assert "Takes 10 mg." in page and "Dose typed wrongly" in page


def test_a_note_entered_in_error_is_marked_and_then_frozen(client: Client, world: World) -> None:
    note = make_note(world.alice)
    signed_in(client, world.clinician)
    url = reverse("staff_records:note_in_error", args=[world.alice.pk, note.pk])
    assert client.post(url, {"error-reason": ""}).status_code == 400
    assert client.post(url, {"error-reason": "Written for another patient"}).status_code == 302
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.ENTERED_IN_ERROR
    assert (
        AuditEvent.objects.get(action="records.note_in_error").detail["reason"]
        == "Written for another patient"
    )
    again = client.post(url, {"error-reason": "Written for another patient"})
    assert again.status_code == 400 and b"can no longer be changed" in again.content
    amend = client.post(
        reverse("staff_records:correct_note", args=[world.alice.pk, note.pk]),
        {"title": "x", "body": "y", "reason": "Another try"},
    )
    assert amend.status_code == 200
    assert Correction.objects.count() == 1
    assert client.get(url).status_code == 405


# Hold rules ------------------------------------------------------------------------------


def test_an_administrator_sets_a_hold_rule_with_a_reason(client: Client, world: World) -> None:
    signed_in(client, world.admin)
    url = reverse("staff_records:hold_rules")
    response = client.post(url, {"category": "pathology", "hold_hours": "48", "reason": HOLD_REASON})
    assert response.status_code == 302
    rule = ReleaseHoldRule.objects.get()
    assert (rule.category, rule.hold_hours, rule.reason, rule.active) == ("pathology", 48, HOLD_REASON, True)
    assert rule.created_by == world.admin
    event = AuditEvent.objects.get(action="records.hold_rule_create")
    assert event.detail["reason"] == HOLD_REASON and event.detail["hold_hours"] == 48

    client.post(url, {"category": "pathology", "hold_hours": "24", "reason": HOLD_REASON})
    assert ReleaseHoldRule.objects.filter(active=True).get().hold_hours == 24
    assert ReleaseHoldRule.objects.count() == 2

    new = ReleaseHoldRule.objects.get(active=True)
    assert client.post(reverse("staff_records:deactivate_hold_rule", args=[new.pk])).status_code == 302
    assert not ReleaseHoldRule.objects.filter(active=True).exists()
    assert AuditEvent.objects.filter(action="records.hold_rule_deactivate").count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"category": "lab", "hold_hours": "0", "reason": HOLD_REASON},
        {"category": "lab", "hold_hours": "73", "reason": HOLD_REASON},
        {"category": "lab", "hold_hours": "-5", "reason": HOLD_REASON},
        {"category": "lab", "hold_hours": "9" * 30, "reason": HOLD_REASON},
        {"category": "lab", "hold_hours": "two", "reason": HOLD_REASON},
        {"category": "lab", "hold_hours": "24", "reason": "Because."},
        {"category": "lab", "hold_hours": "24", "reason": " " * 30},
        {"category": "everything", "hold_hours": "24", "reason": HOLD_REASON},
    ],
)
def test_a_bad_hold_rule_is_refused(client: Client, world: World, data: dict[str, str]) -> None:
    signed_in(client, world.admin)
    response = client.post(reverse("staff_records:hold_rules"), data)
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert not ReleaseHoldRule.objects.exists()


def test_the_longest_hold_follows_the_setting(client: Client, world: World, settings: Any) -> None:
    settings.PORTAL_RESULT_HOLD_MAX_HOURS = 100
    signed_in(client, world.admin)
    client.post(
        reverse("staff_records:hold_rules"), {"category": "lab", "hold_hours": "90", "reason": HOLD_REASON}
    )
    assert ReleaseHoldRule.objects.get().hold_hours == 90


def test_clinicians_read_the_rules_but_cannot_change_them(client: Client, world: World) -> None:
    rule = ReleaseHoldRule.objects.create(category="imaging", hold_hours=12, reason=HOLD_REASON)
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:hold_rules"))
    assert page.status_code == 200 and HOLD_REASON.encode() in page.content
    assert b"Save rule" not in page.content
    data = {"category": "lab", "hold_hours": "24", "reason": HOLD_REASON}
    assert client.post(reverse("staff_records:hold_rules"), data).status_code == 403
    assert client.post(reverse("staff_records:deactivate_hold_rule", args=[rule.pk])).status_code == 403
    assert ReleaseHoldRule.objects.get().active and ReleaseHoldRule.objects.count() == 1


def test_an_administrator_role_without_superuser_may_change_rules(client: Client, world: World) -> None:
    manager = make_staff("maria", Practitioner.Role.ADMINISTRATOR)
    signed_in(client, manager)
    data = {"category": "genetics", "hold_hours": "72", "reason": HOLD_REASON}
    assert client.post(reverse("staff_records:hold_rules"), data).status_code == 302
    assert ReleaseHoldRule.objects.get().created_by == manager


def test_the_staff_phrases_read_in_plain_language() -> None:
    assert describe("records.result_correct") == "corrected a test result in your record"
    assert describe("records.staff_record_view") == "looked at your health record"


def test_the_collection_time_is_read_in_the_patients_campus_time(client: Client, world: World) -> None:
    signed_in(client, world.clinician)
    client.post(
        reverse("staff_records:new_result", args=[world.alice.pk]),
        result_data(effective_at="2026-01-15T08:30"),
    )
    chicago = dt.datetime(2026, 1, 15, 8, 30, tzinfo=ZoneInfo("America/Chicago"))
    assert ResultReport.objects.get().effective_at == chicago


def test_a_report_without_any_value_is_explained(client: Client, world: World) -> None:
    fields = ("code", "name", "value", "unit", "range_low", "range_high", "interpretation")
    blank = {f"values-{row}-{name}": "" for row in range(3) for name in fields}
    signed_in(client, world.clinician)
    response = client.post(reverse("staff_records:new_result", args=[world.alice.pk]), result_data(**blank))
    assert response.status_code == 200
    assert b"Enter at least one value." in response.content
    assert not ResultReport.objects.exists()


def test_the_patient_sees_a_corrected_results_history(client: Client, world: World) -> None:
    report = make_panel(world.alice)
    potassium = report.observations.get(code="2823-3")
    signed_in(client, world.clinician)
    client.post(
        reverse("staff_records:correct_observation", args=[world.alice.pk, potassium.pk]),
        {
            "value": "4.4",
            "unit": "mmol/L",
            "range_low": "3.5",
            "range_high": "5.1",
            "reason": "Haemolysed sample",
        },
    )
    patient = Client()
    patient.force_login(world.alice_user)
    page = patient.get(reverse("records:result", args=[report.pk])).content.decode()
    assert "Haemolysed sample" in page
    assert "5.4 mmol/L" in page  # what it said before


def test_two_administrators_saving_one_category_at_once_get_a_clear_refusal(world: World) -> None:
    from unittest import mock

    from django.db import IntegrityError

    from portal.audit.actor import Actor
    from portal.records.actions import RecordChangeRefused, do_create_hold_rule

    with (
        mock.patch.object(ReleaseHoldRule.objects, "create", side_effect=IntegrityError("one per category")),
        pytest.raises(RecordChangeRefused, match="same moment"),
    ):
        do_create_hold_rule(
            Actor(user=world.admin), "genetics", 24, "Genetic counselling comes first, always."
        )
    assert not AuditEvent.objects.filter(action="records.hold_rule_create").exists()
