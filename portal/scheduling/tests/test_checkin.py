"""Pre-check-in: each step as the patient and a proxy who may schedule, the window, two
sittings, completion, card downloads, the desk's page, and everyone who may not."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from PIL import Image

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.patients.models import Coverage, Scope
from portal.records.tests.support import make_allergy, make_medication
from portal.scheduling.checkin_progress import progress, progress_for
from portal.scheduling.models import (
    Appointment,
    ConsentForm,
    ConsentSignature,
    PreCheckIn,
    Questionnaire,
    QuestionnaireAnswers,
)
from portal.scheduling.tests.support import SchedulingWorld, book, local_moment, make_slot, scheduling_world
from portal.scheduling.tests.test_coverage import jpeg_with_exif, png
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
QUESTIONS = [
    {"linkId": "reason", "type": "string", "text": "Why are you coming in?", "required": True},
    {"linkId": "smoker", "type": "boolean", "text": "Do you smoke?"},
]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def sw(world: World) -> SchedulingWorld:
    return scheduling_world(world)


def add_forms(sw: SchedulingWorld) -> tuple[Questionnaire, ConsentForm]:
    questionnaire = Questionnaire.objects.create(slug="health-check", title="Health check", items=QUESTIONS)
    consent = ConsentForm.objects.create(
        slug="treatment", title="Consent to treatment", body="I agree to be treated."
    )
    sw.follow_up.questionnaires.add(questionnaire)
    sw.follow_up.consent_forms.add(consent)
    return questionnaire, consent


def visit(sw: SchedulingWorld, days_ahead: int = 3, hour: int = 10, patient: Any = None) -> Appointment:
    return book(sw, make_slot(sw, local_moment(sw.world.campus, days_ahead, hour)), patient=patient)


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def schedule_for_proxy(world: World, scopes: list[str] | None = None) -> None:
    world.proxy_grant.scopes = scopes or [Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE]
    world.proxy_grant.save()


def url(name: str, appointment: Appointment, *extra: Any) -> str:
    return reverse(f"checkin:{name}", args=[appointment.pk, *extra])


def card_upload(content: bytes, name: str = "card.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def coverage_post(**overrides: Any) -> dict[str, Any]:
    return {
        "priority": "primary",
        "payer_name": "Acme Health",
        "plan_name": "Gold",
        "member_id": "XY123456789",
        "group_number": "G-1",
        "subscriber_name": "Alice Able",
        "subscriber_relationship": "self",
        "card_front": card_upload(jpeg_with_exif()),
        **overrides,
    }


def actions(world: World) -> list[str]:
    return list(AuditEvent.objects.filter(patient_id=world.alice.pk).values_list("action", flat=True))


# The overview and the window -------------------------------------------------------------------


def test_the_overview_lists_every_step_and_starts_at_the_first(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    response = client_for(sw.world.alice_user).get(url("start", appointment))
    assert response.status_code == 200
    names = [step.name for step in response.context["progress"].steps]
    assert names == [
        "Confirm your details",
        "Review your medications",
        "Review your allergies",
        "Check your insurance",
        "Health check",
        "Consent to treatment",
    ]
    assert b"0 of 6 steps done" in response.content
    assert url("details", appointment).encode() in response.content
    assert url("questionnaire", appointment, questionnaire.pk).encode() in response.content
    assert url("consent", appointment, consent.pk).encode() in response.content
    assert "checkin.view" in actions(sw.world)


def test_before_the_window_the_page_says_when_it_opens(sw: SchedulingWorld, settings: Any) -> None:
    settings.PORTAL_PRECHECKIN_DAYS = 7
    appointment = visit(sw, days_ahead=20)
    client = client_for(sw.world.alice_user)
    response = client.get(url("start", appointment))
    opens = (appointment.starts_at - dt.timedelta(days=7)).astimezone(sw.world.campus.zone)
    assert response.status_code == 200
    assert f"opens on {opens:%A}, {opens:%B} {opens.day}, {opens.year}".encode() in response.content
    assert client.get(url("details", appointment)).status_code == 200
    refused = client.post(url("details", appointment))
    assert refused.status_code == 409
    assert not PreCheckIn.objects.filter(appointment=appointment).exists()


def test_a_cancelled_visit_has_no_pre_check_in(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED)
    response = client_for(sw.world.alice_user).post(url("details", appointment))
    assert response.status_code == 409
    assert b"not open for this appointment" in response.content
    assert not PreCheckIn.objects.exists()


def test_the_window_opens_exactly_n_days_before(sw: SchedulingWorld, settings: Any) -> None:
    settings.PORTAL_PRECHECKIN_DAYS = 2
    assert b"opens on" in client_for(sw.world.alice_user).get(url("start", visit(sw, days_ahead=3))).content
    assert (
        b"opens on" not in client_for(sw.world.alice_user).get(url("start", visit(sw, days_ahead=1))).content
    )


# Each step, as the patient and as a proxy who may schedule --------------------------------------

ACTORS = ["patient", "proxy"]


def acting(world: World, who: str) -> Client:
    if who == "proxy":
        schedule_for_proxy(world)
    return client_for(world.alice_user if who == "patient" else world.proxy_user)


@pytest.mark.parametrize("who", ACTORS)
def test_confirming_details(sw: SchedulingWorld, who: str) -> None:
    appointment = visit(sw)
    client = acting(sw.world, who)
    page = client.get(url("details", appointment))
    assert page.status_code == 200
    assert b"Alice Able" in page.content and b"alice@example.org" in page.content
    assert not PreCheckIn.objects.filter(appointment=appointment).exists()  # GET changes nothing
    response = client.post(url("details", appointment))
    assert response.status_code == 302 and response["Location"] == url("medications", appointment)
    row = PreCheckIn.objects.get(appointment=appointment)
    assert row.demographics_confirmed_at is not None
    assert row.updated_by == (sw.world.alice_user if who == "patient" else sw.world.proxy_user)
    event = AuditEvent.objects.get(action="checkin.demographics_confirm")
    assert event.actor_role == ("patient" if who == "patient" else "proxy")


def test_only_who_manages_the_account_gets_the_link_to_change_details(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    profile = reverse("profile:details").encode()
    assert profile in client_for(sw.world.alice_user).get(url("details", appointment)).content
    caregiver = acting(sw.world, "proxy").get(url("details", appointment)).content
    assert b"Something is wrong: change my details" not in caregiver
    assert b"tell the front desk" in caregiver


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("which", ["medications", "allergies"])
def test_reviewing_a_list_as_right(sw: SchedulingWorld, who: str, which: str) -> None:
    make_medication(sw.world.alice)
    make_allergy(sw.world.alice)
    appointment = visit(sw)
    client = acting(sw.world, who)
    page = client.get(url(which, appointment))
    assert page.status_code == 200
    assert page.context["rows"]
    assert f"checkin.{which}_view" in actions(sw.world)
    response = client.post(url(which, appointment), {"choice": "right", "changes": "typed then changed mind"})
    assert response.status_code == 302
    row = PreCheckIn.objects.get(appointment=appointment)
    reviewed, changes = (
        (row.medications_reviewed_at, row.medication_changes)
        if which == "medications"
        else (row.allergies_reviewed_at, row.allergy_changes)
    )
    assert reviewed is not None and changes == ""
    assert f"checkin.{which}_review" in actions(sw.world)


def test_saying_what_changed(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    empty = client.post(url("medications", appointment), {"choice": "changed", "changes": "   "})
    assert empty.status_code == 400
    assert b"There is a problem" in empty.content
    assert not PreCheckIn.objects.filter(appointment=appointment).exists()
    too_long = client.post(url("medications", appointment), {"choice": "changed", "changes": "x" * 2001})
    assert too_long.status_code == 400
    client.post(
        url("medications", appointment), {"choice": "changed", "changes": "Stopped aspirin last week"}
    )
    client.post(url("allergies", appointment), {"choice": "changed", "changes": "New: penicillin rash"})
    row = PreCheckIn.objects.get(appointment=appointment)
    assert row.medication_changes == "Stopped aspirin last week"
    assert row.allergy_changes == "New: penicillin rash"
    # The second sitting shows what was said.
    assert b"Stopped aspirin last week" in client.get(url("medications", appointment)).content


def test_without_the_view_scope_the_lists_are_not_shown(sw: SchedulingWorld) -> None:
    make_medication(sw.world.alice, name="Secretamol")
    appointment = visit(sw)
    schedule_for_proxy(sw.world, [Scope.SCHEDULE])
    client = client_for(sw.world.proxy_user)
    page = client.get(url("medications", appointment))
    assert page.status_code == 200
    assert b"Secretamol" not in page.content
    assert b"Your clinician will go through this list with you at the visit." in page.content
    assert "checkin.medications_view" not in actions(sw.world)
    assert client.post(url("medications", appointment), {"choice": "right"}).status_code == 302


@pytest.mark.parametrize("who", ACTORS)
def test_confirming_insurance_on_file(sw: SchedulingWorld, who: str) -> None:
    Coverage.objects.create(
        patient=sw.world.alice,
        priority="primary",
        payer_name="Acme Health",
        member_id="XY123456789",
        subscriber_name="Alice Able",
        status=Coverage.Status.VERIFIED,
    )
    appointment = visit(sw)
    client = acting(sw.world, who)
    page = client.get(url("insurance", appointment))
    assert b"Acme Health" in page.content
    assert "••••6789" in page.content.decode()
    assert b"XY123456789" not in page.content
    assert client.post(url("insurance", appointment)).status_code == 302
    assert PreCheckIn.objects.get(appointment=appointment).insurance_reviewed_at is not None
    assert "checkin.insurance_confirm" in actions(sw.world)


@pytest.mark.parametrize("who", ACTORS)
def test_adding_a_coverage_with_card_photos(sw: SchedulingWorld, who: str) -> None:
    old = Coverage.objects.create(
        patient=sw.world.alice, priority="primary", payer_name="Old Payer", member_id="1", subscriber_name="A"
    )
    appointment = visit(sw)
    client = acting(sw.world, who)
    assert client.get(url("insurance_add", appointment)).status_code == 200
    back = SimpleUploadedFile("back.png", png(), content_type="image/png")
    response = client.post(
        url("insurance_add", appointment), coverage_post(card_back=back, replaces=str(old.pk))
    )
    assert response.status_code == 302
    coverage = Coverage.objects.get(payer_name="Acme Health")
    assert coverage.status == Coverage.Status.PENDING
    assert coverage.card_front_type == "image/jpeg" and coverage.card_back_type == "image/png"
    assert re.fullmatch(r"insurance-cards/[0-9a-f]{32}", coverage.card_front.name)
    with coverage.card_front.open("rb") as stored:
        content = stored.read()
    assert b"SpyCam" not in content
    with Image.open(io.BytesIO(content)) as image:
        assert dict(image.getexif()) == {}
    old.refresh_from_db()
    assert old.status == Coverage.Status.INACTIVE
    assert PreCheckIn.objects.get(appointment=appointment).insurance_reviewed_at is not None
    assert "checkin.coverage_add" in actions(sw.world)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            SimpleUploadedFile("card.jpg", b"not an image at all", content_type="image/jpeg"),
            b"Upload a JPEG or PNG",
        ),
        (None, b"This field is required"),
    ],
)
def test_a_bad_card_changes_nothing(sw: SchedulingWorld, front: Any, message: bytes) -> None:
    appointment = visit(sw)
    data = coverage_post(card_front=front) if front else {**coverage_post(), "card_front": ""}
    response = client_for(sw.world.alice_user).post(url("insurance_add", appointment), data)
    assert response.status_code == 400
    assert message in response.content
    assert not Coverage.objects.exists()
    assert not PreCheckIn.objects.filter(appointment=appointment).exists()


def test_a_card_too_big_is_refused(sw: SchedulingWorld, settings: Any) -> None:
    settings.PORTAL_INSURANCE_CARD_MAX_BYTES = 100
    appointment = visit(sw)
    response = client_for(sw.world.alice_user).post(url("insurance_add", appointment), coverage_post())
    assert response.status_code == 400
    assert b"too large" in response.content
    assert not Coverage.objects.exists()


def test_replacing_someone_elses_coverage_is_not_a_choice(sw: SchedulingWorld) -> None:
    theirs = Coverage.objects.create(
        patient=sw.world.bob, priority="primary", payer_name="Bob Payer", member_id="1", subscriber_name="B"
    )
    Coverage.objects.create(
        patient=sw.world.alice,
        priority="primary",
        payer_name="Alice Payer",
        member_id="2",
        subscriber_name="A",
    )
    appointment = visit(sw)
    response = client_for(sw.world.alice_user).post(
        url("insurance_add", appointment), coverage_post(replaces=str(theirs.pk))
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not Coverage.objects.filter(payer_name="Acme Health").exists()
    theirs.refresh_from_db()
    assert theirs.status == Coverage.Status.PENDING


@pytest.mark.parametrize("who", ACTORS)
def test_a_questionnaire_saved_for_later_then_submitted(sw: SchedulingWorld, who: str) -> None:
    questionnaire, _consent = add_forms(sw)
    appointment = visit(sw)
    client = acting(sw.world, who)
    address = url("questionnaire", appointment, questionnaire.pk)
    assert b"Why are you coming in?" in client.get(address).content
    saved = client.post(address, {"action": "save", "q1": "yes"})
    assert saved.status_code == 302 and saved["Location"] == url("start", appointment)
    answers = QuestionnaireAnswers.objects.get(appointment=appointment)
    assert answers.status == QuestionnaireAnswers.Status.IN_PROGRESS
    assert answers.items == [
        {"linkId": "smoker", "text": "Do you smoke?", "answer": [{"valueBoolean": True}]}
    ]
    assert not progress(appointment).steps[4].done
    # Later: the saved answer is still ticked; submitting without the required one fails.
    page = client.get(address)
    assert page.context["form"].initial == {"q1": "yes"}
    missing = client.post(address, {"action": "submit", "q1": "yes"})
    assert missing.status_code == 400
    assert QuestionnaireAnswers.objects.get(pk=answers.pk).status == QuestionnaireAnswers.Status.IN_PROGRESS
    done = client.post(address, {"action": "submit", "q0": "Knee pain", "q1": "no"})
    assert done.status_code == 302
    answers.refresh_from_db()
    assert answers.status == QuestionnaireAnswers.Status.COMPLETED and answers.completed_at is not None
    assert answers.authored_by == (sw.world.alice_user if who == "patient" else sw.world.proxy_user)
    assert progress(appointment).steps[4].done
    assert {"checkin.questionnaire_save", "checkin.questionnaire_submit"} <= set(actions(sw.world))
    # Submitted answers are read back, not changed.
    assert b"Knee pain" in client.get(address).content
    client.post(address, {"action": "submit", "q0": "Something else"})
    answers.refresh_from_db()
    assert answers.items[0]["answer"] == [{"valueString": "Knee pain"}]


def test_a_questionnaire_with_broken_json_does_not_break_the_page(sw: SchedulingWorld) -> None:
    broken = Questionnaire.objects.create(slug="broken", title="Broken", items={"not": "a list"})
    sw.follow_up.questionnaires.add(broken)
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    address = url("questionnaire", appointment, broken.pk)
    assert client.get(address).status_code == 200
    assert client.post(address, {"action": "submit"}).status_code == 302
    assert (
        QuestionnaireAnswers.objects.get(questionnaire=broken).status == QuestionnaireAnswers.Status.COMPLETED
    )


def test_a_questionnaire_of_another_visit_type_is_missing(sw: SchedulingWorld) -> None:
    other = Questionnaire.objects.create(slug="other", title="Other", items=QUESTIONS)
    sw.consult.questionnaires.add(other)
    retired = Questionnaire.objects.create(slug="old", title="Old", items=QUESTIONS, status="retired")
    sw.follow_up.questionnaires.add(retired)
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    missing = client.get(url("questionnaire", appointment, MISSING))
    assert_same_as_missing(client.get(url("questionnaire", appointment, other.pk)), missing)
    assert_same_as_missing(
        client.post(url("questionnaire", appointment, retired.pk), {"action": "save"}), missing
    )
    assert not QuestionnaireAnswers.objects.exists()


@pytest.mark.parametrize(("who", "role"), [("patient", "patient"), ("proxy", "caregiver")])
def test_signing_a_consent_form(sw: SchedulingWorld, who: str, role: str) -> None:
    _questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    client = acting(sw.world, who)
    address = url("consent", appointment, consent.pk)
    assert b"I agree to be treated." in client.get(address).content
    unticked = client.post(address, {"signed_name": "Alice Able"})
    assert unticked.status_code == 400
    nameless = client.post(address, {"signed_name": "   ", "agree": "on"})
    assert nameless.status_code == 400
    assert client.post(address, {"signed_name": "x" * 201, "agree": "on"}).status_code == 400
    assert not ConsentSignature.objects.exists()
    assert client.post(address, {"signed_name": "  Pat   Able ", "agree": "on"}).status_code == 302
    signature = ConsentSignature.objects.get(appointment=appointment)
    assert signature.signed_name == "Pat Able"
    assert signature.signer_role == role
    assert signature.form_version == consent.version
    assert "checkin.consent_sign" in actions(sw.world)
    again = client.post(address, {"signed_name": "Someone Else", "agree": "on"})
    assert again.status_code == 200
    assert ConsentSignature.objects.count() == 1


# Completion and two sittings --------------------------------------------------------------------


def do_every_step(
    client: Client, appointment: Appointment, questionnaire: Questionnaire, consent: ConsentForm
) -> None:
    client.post(url("details", appointment))
    client.post(url("medications", appointment), {"choice": "right"})
    client.post(url("allergies", appointment), {"choice": "right"})
    client.post(url("insurance", appointment))
    client.post(url("questionnaire", appointment, questionnaire.pk), {"action": "submit", "q0": "Check-up"})
    client.post(url("consent", appointment, consent.pk), {"signed_name": "Alice Able", "agree": "on"})


def test_when_every_step_is_done_pre_check_in_is_complete(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    do_every_step(client, appointment, questionnaire, consent)
    row = PreCheckIn.objects.get(appointment=appointment)
    assert row.completed_at is not None
    assert actions(sw.world).count("checkin.complete") == 1
    page = client.get(url("start", appointment))
    assert "Pre-check-in complete" in page.content.decode()
    assert b"a photo ID" in page.content


def test_two_sittings_continue_where_the_patient_left_off(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    first = client_for(sw.world.alice_user)
    first.post(url("details", appointment))
    first.post(url("medications", appointment), {"choice": "right"})
    first.logout()

    second = client_for(sw.world.alice_user)
    page = second.get(url("start", appointment))
    assert b"2 of 6 steps done" in page.content
    assert b"Continue where you left off" in page.content
    assert page.context["progress"].next_step.url == url("allergies", appointment)
    second.post(url("allergies", appointment), {"choice": "right"})
    second.post(url("insurance", appointment))
    second.post(url("questionnaire", appointment, questionnaire.pk), {"action": "submit", "q0": "Check-up"})
    assert PreCheckIn.objects.get(appointment=appointment).completed_at is None
    second.post(url("consent", appointment, consent.pk), {"signed_name": "Alice Able", "agree": "on"})
    assert PreCheckIn.objects.get(appointment=appointment).completed_at is not None


def test_a_visit_type_without_forms_has_four_steps(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    client.post(url("details", appointment))
    client.post(url("medications", appointment), {"choice": "right"})
    client.post(url("allergies", appointment), {"choice": "right"})
    last = client.post(url("insurance", appointment))
    assert last["Location"] == url("start", appointment)
    assert PreCheckIn.objects.get(appointment=appointment).completed_at is not None


# Who may not ---------------------------------------------------------------------------------------

PATIENT_PAGES = ["start", "details", "medications", "allergies", "insurance", "insurance_add"]


def every_page(appointment: Appointment, questionnaire: Questionnaire, consent: ConsentForm) -> list[str]:
    return [url(name, appointment) for name in PATIENT_PAGES] + [
        url("questionnaire", appointment, questionnaire.pk),
        url("consent", appointment, consent.pk),
    ]


def test_a_proxy_without_the_schedule_scope_is_told_so(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    client = client_for(sw.world.proxy_user)  # the world's grant has view and message only
    for address in every_page(appointment, questionnaire, consent):
        assert client.get(address).status_code == 403, address
        if address != url("start", appointment):  # the overview is GET only
            assert client.post(address, {"choice": "right", "action": "save"}).status_code == 403, address
    assert not PreCheckIn.objects.exists() and not QuestionnaireAnswers.objects.exists()


def test_another_patients_visit_is_the_same_as_a_missing_one(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    client = client_for(sw.world.bob_user)
    missing = Appointment(pk=MISSING)
    for address, absent in zip(
        every_page(appointment, questionnaire, consent),
        every_page(missing, questionnaire, consent),
        strict=True,
    ):
        assert_same_as_missing(client.get(address), client.get(absent))
        if address != url("start", appointment):  # the overview is GET only
            posted = client.post(address, {"action": "save"})
            assert_same_as_missing(posted, client.post(absent, {"action": "save"}))
    assert not PreCheckIn.objects.exists() and not QuestionnaireAnswers.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", actor_id=sw.world.bob_user.pk).exists()


def test_staff_and_anonymous_visitors_get_nothing_on_the_patient_side(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    for user in (sw.world.unassigned_staff, sw.world.clinician, None):
        client = client_for(user)
        for address in every_page(appointment, questionnaire, consent):
            send = (
                client.get if address == url("start", appointment) else client.post
            )  # the overview is GET only
            response = send(address, {"choice": "right"})
            assert response.status_code == 302, address
            assert ("/staff/" in response["Location"]) if user else ("login" in response["Location"])
    assert not PreCheckIn.objects.exists()


def test_wrong_methods_and_bad_ids(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    assert client.put(url("details", appointment)).status_code == 405
    assert client.post(url("start", appointment)).status_code == 405
    assert client.get(f"/appointments/check-in/{appointment.pk}x/").status_code == 404
    assert client.get(f"/appointments/check-in/{10**30}/details/").status_code == 404


# Card downloads --------------------------------------------------------------------------------------


def stored_coverage(sw: SchedulingWorld) -> Coverage:
    appointment = visit(sw)
    client_for(sw.world.alice_user).post(url("insurance_add", appointment), coverage_post())
    return Coverage.objects.get()


def card_url(coverage_id: int, side: str = "front") -> str:
    return reverse("checkin:card", args=[coverage_id, side])


@pytest.mark.parametrize("who", ["patient", "proxy", "scheduler", "clinician"])
def test_a_card_photo_downloads_as_an_attachment(sw: SchedulingWorld, who: str) -> None:
    coverage = stored_coverage(sw)
    if who == "proxy":
        schedule_for_proxy(sw.world)
    user = {
        "patient": sw.world.alice_user,
        "proxy": sw.world.proxy_user,
        "scheduler": sw.world.scheduler,
        "clinician": sw.world.clinician,
    }[who]
    response = client_for(user).get(card_url(coverage.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'attachment; filename="insurance-card-front.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"\xff\xd8\xff") and b"SpyCam" not in response.content
    assert AuditEvent.objects.filter(action="checkin.card_view", actor_id=user.pk).exists()


def test_a_card_photo_is_missing_for_everyone_else(sw: SchedulingWorld) -> None:
    coverage = stored_coverage(sw)
    for user in (sw.world.bob_user, sw.world.proxy_user, sw.world.unassigned_staff):
        client = client_for(user)
        assert_same_as_missing(client.get(card_url(coverage.pk)), client.get(card_url(MISSING)))
    alice = client_for(sw.world.alice_user)
    assert_same_as_missing(alice.get(card_url(coverage.pk, "back")), alice.get(card_url(MISSING, "back")))
    assert alice.get(card_url(coverage.pk, "inside")).status_code == 404
    assert alice.post(card_url(coverage.pk)).status_code == 405
    anonymous = client_for(None).get(card_url(coverage.pk))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


# The desk's page and the shared progress -------------------------------------------------------------


def test_the_desk_and_the_clinician_see_what_was_done(sw: SchedulingWorld) -> None:
    questionnaire, consent = add_forms(sw)
    appointment = visit(sw)
    client = client_for(sw.world.alice_user)
    client.post(url("medications", appointment), {"choice": "changed", "changes": "Stopped aspirin"})
    client.post(url("questionnaire", appointment, questionnaire.pk), {"action": "submit", "q0": "Knee pain"})
    client.post(url("consent", appointment, consent.pk), {"signed_name": "Alice Able", "agree": "on"})
    client.post(url("insurance_add", appointment), coverage_post())
    coverage = Coverage.objects.get()
    for staff in (sw.world.scheduler, sw.world.clinician):
        page = client_for(staff).get(url("staff", appointment))
        assert page.status_code == 200
        for text in (b"Consent to treatment", b"Acme Health"):
            assert text in page.content
        assert card_url(coverage.pk).encode() in page.content
        assert AuditEvent.objects.filter(action="checkin.staff_view", actor_id=staff.pk).exists()
    # Answers and reported changes are clinical: the care team sees them, the desk does not.
    clinician_page = client_for(sw.world.clinician).get(url("staff", appointment)).content
    desk_page = client_for(sw.world.scheduler).get(url("staff", appointment)).content
    for text in (b"Stopped aspirin", b"Knee pain"):
        assert text in clinician_page
        assert text not in desk_page


def test_the_desk_page_is_missing_for_everyone_else(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    for user in (sw.world.unassigned_staff, sw.world.alice_user, sw.world.bob_user):
        client = client_for(user)
        assert_same_as_missing(
            client.get(url("staff", appointment)), client.get(url("staff", Appointment(pk=MISSING)))
        )
    anonymous = client_for(None).get(url("staff", appointment))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


def test_the_staff_summary_include_renders(sw: SchedulingWorld) -> None:
    appointment = visit(sw)
    client_for(sw.world.alice_user).post(url("details", appointment))
    html = render_to_string("scheduling/checkin/staff_summary.html", {"progress": progress(appointment)})
    assert "Pre-check-in: 1 of 4" in html
    assert url("staff", appointment) in html


def test_progress_for_a_day_list_runs_a_fixed_number_of_queries(sw: SchedulingWorld) -> None:
    add_forms(sw)
    appointments = [visit(sw, days_ahead=2, hour=7 + index) for index in range(10)]
    client_for(sw.world.alice_user).post(url("details", appointments[0]))
    loaded = list(
        Appointment.objects.filter(pk__in=[a.pk for a in appointments]).select_related("visit_type")
    )
    few = query_count(lambda: progress_for(loaded[:2]))
    many = query_count(lambda: progress_for(loaded))
    assert few == many <= 5
    result = progress_for(loaded)
    assert result[appointments[0].pk].done_count == 1
    assert all(len(state.steps) == 6 for state in result.values())
    assert progress_for([]) == {}
