"""Correction requests: "this looks wrong" on the patient side, and the staff queue that answers them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import portal.records.staff_phrases  # noqa: F401  (the lead imports it from RecordsConfig.ready)
from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe
from portal.notifications.models import Kind as NotificationKind
from portal.notifications.models import Notification
from portal.notifications.send import recipients
from portal.patients.access import decide
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.records import actions
from portal.records.models import (
    AmendmentRequest,
    Document,
    Procedure,
    RecordItem,
)
from portal.records.tests.support import (
    days_ago,
    make_allergy,
    make_immunization,
    make_medication,
    make_note,
    make_panel,
    make_problem,
    make_visit,
)
from portal.test import World, assert_same_as_missing, make_patient, make_staff, make_user, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654


def new_url(item: RecordItem | None = None, *, type_: str = "", id_: Any = "") -> str:
    if item is not None:
        type_, id_ = item._meta.label_lower, item.pk
    return reverse("corrections:new") + f"?type={type_}&id={id_}"


def ask(client: Client, item: RecordItem, description: str = "I have never taken this.", **extra: str) -> Any:
    return client.post(new_url(item), {"description": description, **extra})


def open_request(world: World, item: RecordItem | None = None, by: User | None = None) -> AmendmentRequest:
    item = item or make_medication(world.alice)
    user = by or world.alice_user
    access = decide(user, world.alice)
    assert access is not None
    return actions.do_request_amendment(Actor(user=user), access, item, "The dose is wrong.", "5 mg")


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


# Asking ----------------------------------------------------------------------------------


def test_the_patient_asks_for_a_correction(client: Client, world: World) -> None:
    medication = make_medication(world.alice, "Lisinopril", dose="10 mg tablet")
    signed_in(client, world.alice_user)
    form = client.get(new_url(medication))
    assert form.status_code == 200
    assert b"Lisinopril 10 mg tablet" in form.content
    assert b"What looks wrong?" in form.content and b"What should it say?" in form.content

    response = ask(client, medication, "I stopped this in 2024.", proposed_change="Stopped in March 2024")

    amendment = AmendmentRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("corrections:detail", args=[amendment.pk])
    assert amendment.patient == world.alice
    assert amendment.requested_by == world.alice_user
    assert (amendment.item_type, amendment.item_id) == ("records.medication", medication.pk)
    assert amendment.item_label == "Lisinopril 10 mg tablet"
    assert amendment.description == "I stopped this in 2024."
    assert amendment.proposed_change == "Stopped in March 2024"
    assert amendment.status == AmendmentRequest.Status.SUBMITTED
    event = AuditEvent.objects.get(action="records.amendment_request")
    assert (event.patient_id, event.actor_id, event.actor_role) == (
        world.alice.pk,
        world.alice_user.pk,
        "patient",
    )
    assert AuditEvent.objects.filter(action="records.amendment_form", patient_id=world.alice.pk).exists()
    page = client.get(response["Location"])
    assert b"within 60 days" in page.content
    assert b"Waiting for review" in page.content


def test_a_proxy_who_may_view_asks_and_is_recorded_as_asking(client: Client, world: World) -> None:
    allergy = make_allergy(world.alice)
    signed_in(client, world.proxy_user)
    assert ask(client, allergy).status_code == 302
    amendment = AmendmentRequest.objects.get()
    assert amendment.patient == world.alice
    assert amendment.requested_by == world.proxy_user
    assert AuditEvent.objects.get(action="records.amendment_request").actor_role == "proxy"


def test_a_proxy_without_view_scope_cannot_ask(client: Client, world: World) -> None:
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    allergy = make_allergy(world.alice)
    signed_in(client, world.proxy_user)
    assert client.get(new_url(allergy)).status_code == 403
    assert ask(client, allergy).status_code == 403
    assert not AmendmentRequest.objects.exists()


def _procedure(patient: Patient) -> Procedure:
    return Procedure.objects.create(patient=patient, name="Colonoscopy", performed_at=days_ago(30))


def _document(patient: Patient) -> Document:
    return Document.objects.create(
        patient=patient,
        title="Letter from Dr. Who",
        dated_on=dt.date(2025, 1, 2),
        file="records/documents/2025/01/letter.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
    )


ITEMS: dict[str, Callable[[Patient], Any]] = {
    "records.resultreport": lambda patient: make_panel(patient),
    "records.observation": lambda patient: make_panel(patient).observations.first(),
    "records.clinicalnote": make_note,
    "records.medication": make_medication,
    "records.allergy": make_allergy,
    "records.immunization": make_immunization,
    "records.problem": make_problem,
    "records.encounter": make_visit,
    "records.procedure": _procedure,
    "records.document": _document,
}


@pytest.mark.parametrize("label", sorted(ITEMS))
def test_every_correctable_kind_of_item_can_be_questioned(client: Client, world: World, label: str) -> None:
    item = ITEMS[label](world.alice)
    assert item._meta.label_lower == label
    signed_in(client, world.alice_user)
    assert client.get(new_url(item)).status_code == 200
    assert ask(client, item).status_code == 302
    assert AmendmentRequest.objects.get().item_label == actions.item_label(item)


def test_an_observation_is_labelled_with_its_value_and_date(world: World) -> None:
    report = make_panel(world.alice, when=dt.datetime(2026, 2, 3, 9, tzinfo=dt.UTC))
    glucose = report.observations.get(code="2345-7")
    assert actions.item_label(glucose) == "Glucose: 98 mg/dL (2026-02-03)"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"description": ""}, b"Tell us what looks wrong."),
        ({"description": "   "}, b"Tell us what looks wrong."),
        ({"description": "x" * 4001}, b"at most 4000 characters"),
        ({"description": "Wrong", "proposed_change": "y" * 4001}, b"at most 4000 characters"),
    ],
)
def test_bad_input_is_shown_again_and_changes_nothing(
    client: Client, world: World, data: dict[str, str], error: bytes
) -> None:
    medication = make_medication(world.alice)
    signed_in(client, world.alice_user)
    response = client.post(new_url(medication), data)
    assert response.status_code == 200
    assert error in response.content
    assert b"There is a problem" in response.content
    assert not AmendmentRequest.objects.exists()


def test_another_patients_item_is_the_same_as_a_missing_one(client: Client, world: World) -> None:
    medication = make_medication(world.alice)
    signed_in(client, world.bob_user)
    refused = client.get(new_url(medication))
    missing = client.get(new_url(type_="records.medication", id_=MISSING))
    assert_same_as_missing(refused, missing)
    assert_same_as_missing(ask(client, medication), missing)
    assert not AmendmentRequest.objects.exists()
    assert AuditEvent.objects.filter(action="access.refused", actor_id=world.bob_user.pk).count() == 3


def test_a_held_result_cannot_be_questioned_before_release(client: Client, world: World) -> None:
    held = make_panel(world.alice, available_at=timezone.now() + dt.timedelta(hours=24), hold_reason="Review")
    value = held.observations.first()
    assert value is not None
    signed_in(client, world.alice_user)
    missing = client.get(new_url(type_="records.resultreport", id_=MISSING))
    assert_same_as_missing(client.get(new_url(held)), missing)
    assert_same_as_missing(client.get(new_url(value)), missing)


@pytest.mark.parametrize(
    ("type_", "id_"),
    [
        ("auth.user", "1"),
        ("records.sharelink", "1"),
        ("records.correction", "1"),
        ("", ""),
        ("records.medication", ""),
        ("records.medication", "abc"),
        ("records.medication", "-1"),
        ("records.medication", "1.5"),
        ("records.medication", "9" * 30),
        ("records.medication", "1%00"),
    ],
)
def test_garbage_types_and_ids_are_missing(client: Client, world: World, type_: str, id_: str) -> None:
    make_medication(world.alice)
    signed_in(client, world.alice_user)
    missing = client.get(new_url(type_="records.medication", id_=MISSING))
    assert_same_as_missing(client.get(new_url(type_=type_, id_=id_)), missing)
    response = client.post(new_url(type_=type_, id_=id_), {"description": "Wrong"})
    assert response.status_code == 404
    assert not AmendmentRequest.objects.exists()


def test_a_parent_cannot_question_an_adolescents_confidential_item(client: Client, world: World) -> None:
    teen = make_patient("10000020", "Tess", "Able", world.campus)
    today = timezone.localdate()
    teen.birth_date = dt.date(today.year - 15, 1, 1)
    teen.save()
    ProxyGrant.objects.create(
        grantee=world.proxy_user,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=400),
    )
    private = make_note(teen, "Counselling", sensitivity="mental-health")
    ordinary = make_note(teen, "Sports physical")
    signed_in(client, world.proxy_user)
    session = client.session  # act for the teenager, as the patient switcher would
    session["acting_for_patient"] = teen.pk
    session.save()
    assert client.get(new_url(ordinary)).status_code == 200
    missing = client.get(new_url(type_="records.clinicalnote", id_=MISSING))
    assert_same_as_missing(client.get(new_url(private)), missing)


def test_too_many_open_requests_are_refused(client: Client, world: World) -> None:
    medication = make_medication(world.alice)
    for _ in range(actions.MAX_OPEN_AMENDMENTS):
        open_request(world, medication)
    signed_in(client, world.alice_user)
    response = ask(client, medication)
    assert response.status_code == 200
    assert b"already" in response.content
    assert AmendmentRequest.objects.count() == actions.MAX_OPEN_AMENDMENTS


@pytest.mark.parametrize("name", ["corrections:new", "corrections:list"])
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_anonymous_visitors_cannot_open_a_request(client: Client, world: World) -> None:
    amendment = open_request(world)
    response = client.get(reverse("corrections:detail", args=[amendment.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# The patient's list and detail -----------------------------------------------------------


def test_the_list_shows_each_request_with_its_status_and_reply(client: Client, world: World) -> None:
    waiting = open_request(world, make_medication(world.alice, "Metformin"))
    answered = open_request(world, make_allergy(world.alice, "Latex"), by=world.proxy_user)
    _decide(world, answered, accepted=False, response="The allergy was confirmed by a skin test.")
    signed_in(client, world.alice_user)
    page = client.get(reverse("corrections:list"))
    assert page.status_code == 200
    text = page.content.decode()
    assert waiting.item_label in text and answered.item_label in text
    assert "Waiting for review" in text and "Not changed" in text
    assert "The allergy was confirmed by a skin test." in text
    assert "by Pat Able" in text
    assert AuditEvent.objects.filter(action="records.amendment_list", patient_id=world.alice.pk).exists()


def test_the_list_costs_the_same_with_more_requests(client: Client, world: World) -> None:
    medication = make_medication(world.alice)
    signed_in(client, world.alice_user)

    def requests(count: int) -> int:
        AmendmentRequest.objects.all().delete()
        AmendmentRequest.objects.bulk_create(
            AmendmentRequest(
                patient=world.alice,
                requested_by=world.proxy_user if number % 2 else world.alice_user,
                item_type="records.medication",
                item_id=medication.pk,
                item_label=f"Item {number}",
                description="Wrong",
            )
            for number in range(count)
        )
        return query_count(lambda: client.get(reverse("corrections:list")))

    client.get(reverse("corrections:list"))  # the first request also sets up the session
    assert requests(5) == requests(50)


def test_another_patients_request_is_the_same_as_a_missing_one(client: Client, world: World) -> None:
    amendment = open_request(world)
    signed_in(client, world.bob_user)
    refused = client.get(reverse("corrections:detail", args=[amendment.pk]))
    missing = client.get(reverse("corrections:detail", args=[MISSING]))
    assert_same_as_missing(refused, missing)
    assert client.get(reverse("corrections:list") + "9" * 30 + "/").status_code == 404
    assert amendment.item_label.encode() not in client.get(reverse("corrections:list")).content


def test_the_proxy_sees_the_patients_requests(client: Client, world: World) -> None:
    amendment = open_request(world)
    signed_in(client, world.proxy_user)
    assert client.get(reverse("corrections:detail", args=[amendment.pk])).status_code == 200
    assert amendment.item_label.encode() in client.get(reverse("corrections:list")).content


# The staff queue and answers -------------------------------------------------------------


def _decide(world: World, amendment: AmendmentRequest, *, accepted: bool, response: str) -> AmendmentRequest:
    access = decide(world.clinician, world.alice)
    assert access is not None
    return actions.do_decide_amendment(Actor(user=world.clinician), access, amendment, accepted, response)


def test_the_care_team_sees_open_requests_oldest_first(client: Client, world: World) -> None:
    open_request(world, make_medication(world.alice, "Newer"))
    older = open_request(world, make_medication(world.alice, "Older"))
    AmendmentRequest.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(days=70))
    decided = open_request(world, make_medication(world.alice, "Decided"))
    _decide(world, decided, accepted=True, response="Fixed.")
    bobs = AmendmentRequest.objects.create(
        patient=world.bob, item_type="records.medication", item_id=1, item_label="Bob's pill", description="x"
    )
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:amendments"))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("Older") < text.index("Newer")
    assert "Decided" not in text
    assert bobs.item_label not in text  # Bob is not in Carol's care
    assert "Overdue" in text
    assert AuditEvent.objects.filter(action="records.staff_amendment_queue_view").exists()


@pytest.mark.parametrize("persona", ["unassigned_staff", "scheduler"])
def test_staff_outside_the_care_team_see_an_empty_queue(client: Client, world: World, persona: str) -> None:
    amendment = open_request(world)
    signed_in(client, getattr(world, persona))
    page = client.get(reverse("staff_records:amendments"))
    assert page.status_code == 200
    assert amendment.item_label.encode() not in page.content


@pytest.mark.parametrize("persona", ["alice_user", "proxy_user", "bob_user"])
def test_patients_and_proxies_have_no_staff_queue(client: Client, world: World, persona: str) -> None:
    amendment = open_request(world)
    signed_in(client, getattr(world, persona))
    assert client.get(reverse("staff_records:amendments")).status_code == 404
    assert client.get(reverse("staff_records:amendment", args=[amendment.pk])).status_code == 404


def test_the_queue_costs_the_same_with_more_requests(client: Client, world: World) -> None:
    medication = make_medication(world.alice)
    signed_in(client, world.clinician)

    def queue(count: int) -> int:
        AmendmentRequest.objects.all().delete()
        AmendmentRequest.objects.bulk_create(
            AmendmentRequest(
                patient=world.alice,
                requested_by=world.alice_user,
                item_type="records.medication",
                item_id=medication.pk,
                item_label=f"Item {number}",
                description="Wrong",
            )
            for number in range(count)
        )
        return query_count(lambda: client.get(reverse("staff_records:amendments")))

    client.get(reverse("staff_records:amendments"))  # the first request also sets up the session
    assert queue(5) == queue(50)


@pytest.mark.parametrize("persona", ["unassigned_staff", "scheduler"])
def test_a_request_is_missing_for_staff_outside_the_care_team(
    client: Client, world: World, persona: str
) -> None:
    amendment = open_request(world)
    signed_in(client, getattr(world, persona))
    refused = client.get(reverse("staff_records:amendment", args=[amendment.pk]))
    missing = client.get(reverse("staff_records:amendment", args=[MISSING]))
    assert_same_as_missing(refused, missing)
    posted = client.post(
        reverse("staff_records:amendment", args=[amendment.pk]), {"decision": "deny", "deny-response": "No"}
    )
    assert posted.status_code == 404
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.SUBMITTED


def test_the_clinician_sees_the_request_beside_the_item_as_it_is_now(client: Client, world: World) -> None:
    medication = make_medication(world.alice, "Lisinopril", dose="10 mg tablet")
    amendment = open_request(world, medication)
    medication.dose = "20 mg tablet"
    medication.save()
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:amendment", args=[amendment.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "The dose is wrong." in text and "5 mg" in text
    assert "20 mg tablet" in text  # now
    assert "Lisinopril 10 mg tablet" in text  # the label as the patient saw it
    assert AuditEvent.objects.filter(
        action="records.staff_amendment_view", actor_id=world.clinician.pk
    ).exists()


def test_an_observation_request_links_to_its_correction_form(client: Client, world: World) -> None:
    value = make_panel(world.alice).observations.first()
    assert value is not None
    amendment = open_request(world, value)
    signed_in(client, world.clinician)
    page = client.get(reverse("staff_records:amendment", args=[amendment.pk]))
    assert (
        reverse("staff_records:correct_observation", args=[world.alice.pk, value.pk]).encode() in page.content
    )


def test_denying_needs_a_reason(client: Client, world: World) -> None:
    amendment = open_request(world)
    signed_in(client, world.clinician)
    url = reverse("staff_records:amendment", args=[amendment.pk])
    response = client.post(url, {"decision": "deny", "deny-response": "  "})
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.SUBMITTED
    assert not Notification.objects.exists()


def test_a_denial_tells_the_patient_the_reason_and_their_right_to_disagree(
    client: Client, world: World
) -> None:
    amendment = open_request(world)
    signed_in(client, world.clinician)
    response = client.post(
        reverse("staff_records:amendment", args=[amendment.pk]),
        {"decision": "deny", "deny-response": "The pharmacy confirmed the 10 mg dose."},
    )
    assert response.status_code == 302
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.DENIED
    assert amendment.response == "The pharmacy confirmed the 10 mg dose."
    assert amendment.decided_by == world.clinician and amendment.decided_at is not None
    event = AuditEvent.objects.get(action="records.amendment_decide")
    assert event.detail["accepted"] is False and event.patient_id == world.alice.pk
    recipients = set(Notification.objects.values_list("recipient_id", flat=True))
    assert recipients == {world.alice_user.pk, world.proxy_user.pk}
    notification = Notification.objects.get(recipient=world.alice_user)
    assert notification.link == reverse("corrections:detail", args=[amendment.pk])

    patient = Client()
    patient.force_login(world.alice_user)
    page = patient.get(reverse("corrections:detail", args=[amendment.pk])).content.decode()
    assert "The pharmacy confirmed the 10 mg dose." in page
    assert "Not changed" in page
    assert "statement of disagreement" in page


def test_accepting_tells_the_patient_what_changed(client: Client, world: World) -> None:
    amendment = open_request(world)
    signed_in(client, world.clinician)
    response = client.post(
        reverse("staff_records:amendment", args=[amendment.pk]),
        {"decision": "accept", "accept-response": "Dose corrected to 5 mg."},
    )
    assert response.status_code == 302
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.ACCEPTED
    patient = Client()
    patient.force_login(world.alice_user)
    page = patient.get(reverse("corrections:detail", args=[amendment.pk])).content.decode()
    assert "Dose corrected to 5 mg." in page and "Accepted" in page
    assert "statement of disagreement" not in page


def test_a_decided_request_cannot_be_decided_again(client: Client, world: World) -> None:
    amendment = open_request(world)
    _decide(world, amendment, accepted=False, response="Correct as it is.")
    with pytest.raises(actions.RecordChangeRefused):
        _decide(world, amendment, accepted=True, response="Changed my mind.")
    signed_in(client, world.clinician)
    client.post(
        reverse("staff_records:amendment", args=[amendment.pk]),
        {"decision": "accept", "accept-response": "Second answer"},
    )
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.DENIED
    assert amendment.response == "Correct as it is."
    assert AuditEvent.objects.filter(action="records.amendment_decide").count() == 1
    page = client.get(reverse("staff_records:amendment", args=[amendment.pk]))
    assert b"Deny request" not in page.content and b"Correct as it is." in page.content


def test_a_parent_is_not_told_about_an_adolescents_confidential_item(world: World) -> None:
    teen = make_patient("10000021", "Tess", "Able", world.campus, account=make_user("tess"))
    today = timezone.localdate()
    teen.birth_date = dt.date(today.year - 15, 1, 1)
    teen.save()
    ProxyGrant.objects.create(
        grantee=world.proxy_user,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=400),
    )
    told = [user.pk for user in recipients(teen, NotificationKind.RESULTS, "mental-health")]
    assert told == [teen.account_id]
    everyone = {user.pk for user in recipients(teen, NotificationKind.RESULTS, "")}
    assert everyone == {teen.account_id, world.proxy_user.pk}


def test_only_clinicians_answer(client: Client, world: World) -> None:
    from portal.organization.models import Practitioner

    interpreter = make_staff("ines", Practitioner.Role.INTERPRETER, world.care_team)
    amendment = open_request(world)
    signed_in(client, interpreter)
    assert client.get(reverse("staff_records:amendment", args=[amendment.pk])).status_code == 200
    response = client.post(
        reverse("staff_records:amendment", args=[amendment.pk]),
        {"decision": "accept", "accept-response": "Ok"},
    )
    assert response.status_code == 403
    amendment.refresh_from_db()
    assert amendment.status == AmendmentRequest.Status.SUBMITTED


def test_the_access_log_reads_in_plain_language() -> None:
    assert describe("records.amendment_request") == "asked for a correction to your record"
    assert describe("records.amendment_decide") == "answered a request to correct your record"


def test_a_report_item_is_loaded_only_when_visible(world: World) -> None:
    """`visible_items` keeps the release rule for reports, as the patient's pages do."""
    from portal.records.amendment_views import visible_items

    held = make_panel(world.alice, available_at=timezone.now() + dt.timedelta(hours=2))
    patient = decide(world.alice_user, world.alice)
    staff = decide(world.clinician, world.alice)
    assert patient is not None and staff is not None
    assert not visible_items(patient, "records.resultreport").filter(pk=held.pk).exists()
    assert visible_items(staff, "records.resultreport").filter(pk=held.pk).exists()
    values = list(held.observations.values_list("pk", flat=True))
    assert not visible_items(patient, "records.observation").filter(pk__in=values).exists()
    assert visible_items(staff, "records.observation").filter(pk__in=values).count() == 3


def test_a_parent_lists_only_their_own_requests_for_an_adolescent(client: Client, world: World) -> None:
    teen_user = make_user("tess")
    teen = make_patient("10000022", "Tess", "Able", world.campus, account=teen_user)
    today = timezone.localdate()
    teen.birth_date = dt.date(today.year - 15, 1, 1)
    teen.save()
    ProxyGrant.objects.create(
        grantee=world.proxy_user,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=400),
    )
    teen_access, parent_access = decide(teen_user, teen), decide(world.proxy_user, teen)
    assert teen_access is not None and parent_access is not None
    private = actions.do_request_amendment(
        Actor(user=teen_user),
        teen_access,
        make_note(teen, "Counselling", sensitivity="mental-health"),
        "Wrong",
    )
    own = actions.do_request_amendment(
        Actor(user=world.proxy_user), parent_access, make_note(teen, "Sports physical"), "Wrong date"
    )
    signed_in(client, world.proxy_user)
    session = client.session
    session["acting_for_patient"] = teen.pk
    session.save()
    listing = client.get(reverse("corrections:list")).content.decode()
    assert own.item_label in listing and private.item_label not in listing
    missing = client.get(reverse("corrections:detail", args=[MISSING]))
    assert_same_as_missing(client.get(reverse("corrections:detail", args=[private.pk])), missing)
