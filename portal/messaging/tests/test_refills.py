"""Prescription refills on the patient side: the request form, its rules, pharmacies, the list,
and the refill status on the health record's medication list."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.lib import campus_time
from portal.messaging import actions_refills
from portal.messaging.models import Message, Pharmacy, RefillItem, RefillRequest, Thread, Topic
from portal.messaging.tests.support import access_for, make_pharmacy, messaging_world
from portal.notifications.models import Notification
from portal.organization.models import CareTeam, Practitioner
from portal.patients.models import CareRelationship, ProxyGrant, Scope
from portal.records.models import Medication
from portal.records.tests.support import make_medication
from portal.test import World, assert_same_as_missing, make_patient, make_staff, make_user, query_count

pytestmark = pytest.mark.django_db

NEW = reverse("refills:new")
LIST = reverse("refills:list")
PHARMACIES = reverse("refills:pharmacies")
MEDICATIONS = reverse("records:medications")
MISSING = 987654321


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    client.force_login(world.persona(persona))
    return client


def medication(world: World, name: str = "Lisinopril", **fields: Any) -> Medication:
    fields.setdefault("prescriber", world.clinician.practitioner)
    return make_medication(fields.pop("patient", world.alice), name, **fields)


def form(*medications: Medication, pharmacy: Pharmacy | None = None, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "medications": [each.pk for each in medications],
        "pharmacy": pharmacy.pk if pharmacy is not None else "new",
        "new_name": "" if pharmacy is not None else "Corner Pharmacy",
        "new_address": "",
        "new_phone": "",
        "notes": "I have 5 tablets left.",
    }
    data.update(changes)
    return data


def request_refill(world: World, *medications: Medication, user: Any = None, **fields: Any) -> RefillRequest:
    pharmacy = fields.pop("pharmacy", None) or make_pharmacy(world)
    return actions_refills.do_request_refill(
        Actor.system(),
        access_for(user or world.alice_user, world),
        medication_ids=[each.pk for each in medications],
        pharmacy=pharmacy,
        **fields,
    )


def nothing_saved() -> None:
    assert not RefillRequest.objects.exists()
    assert not RefillItem.objects.exists()
    assert not Thread.objects.exists()
    assert not Notification.objects.exists()


# The form ------------------------------------------------------------------------------------


def test_the_form_offers_active_medications_and_explains_those_it_cannot(world: World) -> None:
    lisinopril = medication(world, "Lisinopril")
    oxycodone = medication(
        world, "Oxycodone", renewable_online=False, not_renewable_reason="A controlled substance."
    )
    warfarin = medication(world, "Warfarin", renewable_online=False)
    medication(world, "Amoxicillin", status=Medication.Status.STOPPED)
    medication(world, "Bob's insulin", patient=world.bob)
    response = signed_in(world).get(NEW)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{lisinopril.pk}" id="medication-{lisinopril.pk}">' in page
    assert f'value="{oxycodone.pk}" id="medication-{oxycodone.pk}" disabled' in page
    assert "Cannot be refilled online: A controlled substance." in page
    assert f'value="{warfarin.pk}" id="medication-{warfarin.pk}" disabled' in page
    assert "This medication cannot be refilled online. Call your care team." in page
    assert "Amoxicillin" not in page and "insulin" not in page
    assert "Another pharmacy" in page
    assert AuditEvent.objects.filter(action="refills.new_view", patient_id=world.alice.pk).exists()


def test_a_medication_waiting_for_an_answer_cannot_be_chosen_again(world: World) -> None:
    lisinopril = medication(world)
    request_refill(world, lisinopril)
    page = signed_in(world).get(NEW).content.decode()
    assert f'value="{lisinopril.pk}" id="medication-{lisinopril.pk}" disabled' in page
    today = campus_time.date_label(timezone.now(), world.campus)
    assert f"Refill requested on {today}: waiting for your care team." in page


def test_the_link_from_a_medication_chooses_it_and_the_usual_pharmacy(world: World) -> None:
    lisinopril = medication(world)
    medication(world, "Metformin")
    make_pharmacy(world, "Other Pharmacy")
    usual = make_pharmacy(world, "Usual Pharmacy", preferred=True)
    client = signed_in(world)
    page = client.get(NEW, {"medication": lisinopril.pk}).content.decode()
    assert f'value="{lisinopril.pk}" id="medication-{lisinopril.pk}" checked>' in page
    assert re.search(rf'name="pharmacy" value="{usual.pk}"[^>]*checked', page)
    assert len(re.findall(r"<input[^>]* checked", page)) == 2
    for junk in ("x", "<b>", str(MISSING)):
        assert client.get(NEW, {"medication": junk}).status_code == 200


# Requesting ------------------------------------------------------------------------------------


def test_a_request_starts_a_prescription_thread_with_the_care_team(world: World) -> None:
    messaging_world(world)
    lisinopril = medication(world, "Lisinopril", dose="10 mg")
    metformin = medication(world, "Metformin", dose="500 mg")
    pharmacy = make_pharmacy(world, "Main Street Pharmacy", phone="507-555-0199")
    response = signed_in(world).post(NEW, form(lisinopril, metformin, pharmacy=pharmacy))
    assert response.status_code == 302 and response["Location"] == LIST
    refill = RefillRequest.objects.get()
    assert refill.status == RefillRequest.Status.REQUESTED
    assert refill.requested_by == world.alice_user and refill.pharmacy == pharmacy
    assert refill.notes == "I have 5 tablets left."
    assert list(refill.items.values_list("medication_name", flat=True)) == [
        "Lisinopril 10 mg",
        "Metformin 500 mg",
    ]
    thread = refill.thread
    assert thread is not None and thread.topic == Topic.PRESCRIPTION and thread.pool == world.care_team
    assert thread.status == Thread.Status.NEW and thread.due_at is not None
    body = Message.objects.get(thread=thread).body
    assert body.startswith("Refill request: Lisinopril 10 mg, Metformin 500 mg.")
    assert "Pharmacy: Main Street Pharmacy, 1 Main Street, 507-555-0199" in body
    assert "Notes: I have 5 tablets left." in body
    told = set(Notification.objects.filter(for_staff=True).values_list("recipient__username", flat=True))
    assert told == {"carol", "nina"}
    assert AuditEvent.objects.filter(action="refills.request", patient_id=world.alice.pk).count() == 1


def test_the_request_goes_to_the_prescriber_s_team(world: World) -> None:
    # Alice is also in the care of a team whose name sorts first; her prescriber is not in it.
    allergy = CareTeam.objects.create(slug="allergy", name="Allergy clinic", campus=world.campus)
    allergist = make_staff("alma", Practitioner.Role.PHYSICIAN, allergy)
    CareRelationship.objects.create(
        patient=world.alice,
        care_team=allergy,
        practitioner=allergist.practitioner,
        starts_on=dt.date(2020, 1, 1),
    )
    from_carol = request_refill(world, medication(world, "Lisinopril"))
    assert from_carol.thread is not None and from_carol.thread.pool == world.care_team
    from_alma = request_refill(world, medication(world, "Cetirizine", prescriber=allergist.practitioner))
    assert from_alma.thread is not None and from_alma.thread.pool == allergy
    unknown = request_refill(world, medication(world, "Vitamin D", prescriber=None))
    assert unknown.thread is not None and unknown.thread.pool == allergy  # her first team by name


def test_a_pharmacy_typed_in_is_saved_for_next_time(world: World) -> None:
    lisinopril = medication(world)
    data = form(lisinopril, new_name="Corner Pharmacy", new_address="2 Elm Street", new_phone="507-555-0123")
    assert signed_in(world).post(NEW, data).status_code == 302
    pharmacy = Pharmacy.objects.get()
    assert (pharmacy.patient, pharmacy.name, pharmacy.address, pharmacy.preferred) == (
        world.alice,
        "Corner Pharmacy",
        "2 Elm Street",
        True,
    )
    assert RefillRequest.objects.get().pharmacy == pharmacy


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"medications": []}, "Choose at least one medication to refill."),
        ({"pharmacy": "", "new_name": ""}, "Choose the pharmacy to send the refill to."),
        ({"pharmacy": str(MISSING), "new_name": ""}, "That pharmacy is no longer saved."),
        ({"new_name": "   "}, "Enter the pharmacy&#x27;s name, or choose a saved pharmacy."),
        ({"new_name": "P" * 151}, "Use at most 150 characters."),
        ({"notes": "x" * 2001}, "Use at most 2000 characters."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(
    world: World, changes: dict[str, Any], error: str
) -> None:
    data = {**form(medication(world)), **changes}
    response = signed_in(world).post(NEW, data)
    assert response.status_code == 400
    assert error in response.content.decode()
    nothing_saved()
    assert not Pharmacy.objects.exists()


def test_a_medication_not_renewable_online_is_refused_with_its_reason(world: World) -> None:
    lisinopril = medication(world)
    oxycodone = medication(
        world,
        "Oxycodone",
        renewable_online=False,
        not_renewable_reason="Each refill needs a new prescription.",
    )
    response = signed_in(world).post(NEW, form(lisinopril, oxycodone))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Oxycodone 10 mg tablet cannot be refilled online: Each refill needs a new prescription." in page
    nothing_saved()
    assert not Pharmacy.objects.exists()  # the pharmacy typed in goes with the request, or not at all


@pytest.mark.parametrize("which", ["stopped", "other_patient", "missing", "not_a_number"])
def test_a_medication_not_on_the_active_list_is_refused(world: World, which: str) -> None:
    lisinopril = medication(world)
    stranger = {
        "stopped": lambda: medication(world, "Amoxicillin", status=Medication.Status.STOPPED).pk,
        "other_patient": lambda: medication(world, "Insulin", patient=world.bob).pk,
        "missing": lambda: MISSING,
        "not_a_number": lambda: "1 OR 1=1",
    }[which]()
    data = form(lisinopril)
    data["medications"] = [lisinopril.pk, stranger]
    response = signed_in(world).post(NEW, data)
    assert response.status_code == 400
    assert "Choose only medications from your list of active medications." in response.content.decode()
    nothing_saved()


def test_the_action_refuses_what_the_form_would_not_offer(world: World) -> None:
    stopped = medication(world, "Amoxicillin", status=Medication.Status.STOPPED)
    bobs = medication(world, "Insulin", patient=world.bob)
    for wrong in (stopped, bobs):
        with pytest.raises(actions_refills.RefillRefused):
            request_refill(world, medication(world, f"Fine {wrong.pk}"), wrong)
    with pytest.raises(actions_refills.RefillRefused):
        request_refill(world)
    bobs_pharmacy = Pharmacy.objects.create(patient=world.bob, name="Bob's pharmacy")
    with pytest.raises(actions_refills.RefillRefused):
        request_refill(world, medication(world), pharmacy=bobs_pharmacy)
    assert not RefillRequest.objects.exists() and not Thread.objects.exists()


def test_a_medication_already_waiting_is_refused_until_it_is_decided(world: World) -> None:
    lisinopril = medication(world)
    first = request_refill(world, lisinopril)
    pharmacy = first.pharmacy
    response = signed_in(world).post(NEW, form(lisinopril, pharmacy=pharmacy))
    assert response.status_code == 400
    assert "A refill of Lisinopril 10 mg tablet was already requested on" in response.content.decode()
    assert RefillRequest.objects.count() == 1 and Thread.objects.count() == 1

    RefillRequest.objects.filter(pk=first.pk).update(status=RefillRequest.Status.QUESTION)
    assert signed_in(world).post(NEW, form(lisinopril, pharmacy=pharmacy)).status_code == 400
    RefillRequest.objects.filter(pk=first.pk).update(status=RefillRequest.Status.APPROVED)
    assert signed_in(world).post(NEW, form(lisinopril, pharmacy=pharmacy)).status_code == 302
    assert RefillRequest.objects.count() == 2


def test_a_patient_with_no_care_team_is_told_to_call(world: World) -> None:
    CareRelationship.objects.filter(patient=world.alice).delete()
    response = signed_in(world).post(NEW, form(medication(world)))
    assert response.status_code == 400
    assert "No care team is taking refill requests for you online. Please call your clinic." in (
        response.content.decode()
    )
    nothing_saved()


# Who may ask -----------------------------------------------------------------------------------


def test_a_proxy_with_view_and_message_asks_for_the_patient(world: World) -> None:
    lisinopril = medication(world)
    assert signed_in(world, "proxy").get(NEW).status_code == 200
    assert signed_in(world, "proxy").post(NEW, form(lisinopril)).status_code == 302
    refill = RefillRequest.objects.get()
    assert refill.patient == world.alice and refill.requested_by == world.proxy_user


def test_a_proxy_without_the_message_scope_is_refused(world: World) -> None:
    world.proxy_grant.scopes = [Scope.VIEW]
    world.proxy_grant.save()
    lisinopril = medication(world)
    client = signed_in(world, "proxy")
    for url in (LIST, NEW, PHARMACIES):
        response = client.get(url)
        assert response.status_code == 403
        assert "This part of the account is not shared with you" in response.content.decode()
    assert client.post(NEW, form(lisinopril)).status_code == 403
    assert client.post(PHARMACIES, {"name": "Sneaky Pharmacy"}).status_code == 403
    nothing_saved()
    assert not Pharmacy.objects.exists()
    with pytest.raises(actions_refills.RefillRefused):
        request_refill(world, lisinopril, user=world.proxy_user)


def test_a_proxy_who_may_message_but_not_see_the_record_is_told_why(world: World) -> None:
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    lisinopril = medication(world)
    client = signed_in(world, "proxy")
    response = client.get(NEW)
    assert response.status_code == 403
    page = response.content.decode()
    assert "seeing the health record and messaging the care team" in page
    assert "Lisinopril" not in page
    assert client.post(NEW, form(lisinopril)).status_code == 403
    nothing_saved()
    assert client.get(LIST).status_code == 200


def test_an_adolescent_s_confidential_medication_is_not_offered_to_a_parent(world: World) -> None:
    teen_user = make_user("tess")
    teen = make_patient("10000015", "Tess", "Able", world.campus, account=teen_user)
    teen.birth_date = dt.date(timezone.localdate().year - 15, 1, 1)
    teen.save(update_fields=["birth_date"])
    parent = make_user("paula")
    ProxyGrant.objects.create(
        grantee=parent,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW, Scope.MESSAGE],
        starts_at=timezone.now() - dt.timedelta(days=400),
    )
    CareRelationship.objects.create(patient=teen, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    sertraline = make_medication(teen, "Sertraline", sensitivity="mental-health")
    make_medication(teen, "Salbutamol inhaler")
    client = Client()
    client.force_login(parent)
    page = client.get(NEW).content.decode()
    assert "Salbutamol" in page and "Sertraline" not in page
    data = form(sertraline)
    assert client.post(NEW, data).status_code == 400
    assert not RefillRequest.objects.exists()
    # The teen's own request for it stays out of the parent's list.
    teen_client = Client()
    teen_client.force_login(teen_user)
    assert teen_client.post(NEW, form(sertraline)).status_code == 302
    assert "Sertraline" in teen_client.get(LIST).content.decode()
    assert "Sertraline" not in client.get(LIST).content.decode()


def test_another_patient_sees_none_of_it(world: World) -> None:
    lisinopril = medication(world)
    request_refill(world, lisinopril)
    client = signed_in(world, "other_patient")
    assert "Lisinopril" not in client.get(LIST).content.decode()
    assert "Lisinopril" not in client.get(NEW).content.decode()
    assert client.post(NEW, form(lisinopril)).status_code == 400
    assert RefillRequest.objects.count() == 1


def test_staff_and_anonymous_visitors_get_no_patient_pages(world: World) -> None:
    lisinopril = medication(world)
    for url in (LIST, NEW, PHARMACIES):
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"]
        staff = signed_in(world, "unassigned_staff").get(url)
        assert staff.status_code == 302 and staff["Location"] == reverse("staff:home")
    assert Client().post(NEW, form(lisinopril)).status_code == 302
    assert signed_in(world, "unassigned_staff").post(NEW, form(lisinopril)).status_code == 302
    nothing_saved()


# The list --------------------------------------------------------------------------------------


def test_the_list_shows_each_request_with_its_status_and_dates(world: World) -> None:
    refill = request_refill(world, medication(world, "Lisinopril"), notes="Running low")
    RefillRequest.objects.filter(pk=refill.pk).update(
        status=RefillRequest.Status.DENIED,
        decision_note="Please book a blood pressure check first.",
        decided_at=timezone.now(),
    )
    request_refill(world, medication(world, "Metformin"))
    page = signed_in(world).get(LIST).content.decode()
    assert "Lisinopril 10 mg tablet" in page and "Metformin 10 mg tablet" in page
    assert "Refill denied" in page and "Declined" in page and "Refill requested" in page
    assert "Please book a blood pressure check first." in page and "Running low" in page
    assert "Main Street Pharmacy" in page
    assert reverse("messaging:thread", args=[refill.thread_id]) in page
    assert AuditEvent.objects.filter(action="refills.list_view", patient_id=world.alice.pk).exists()


def test_the_list_costs_the_same_however_many_requests(world: World) -> None:
    client = signed_in(world)
    pharmacy = make_pharmacy(world)

    def add(count: int) -> None:
        for number in range(count):
            request_refill(
                world, medication(world, f"Drug {RefillRequest.objects.count()}-{number}"), pharmacy=pharmacy
            )

    add(2)
    client.get(LIST)  # the first request of a session records the session
    few = query_count(lambda: client.get(LIST))
    add(10)
    assert query_count(lambda: client.get(LIST)) == few


# Pharmacies ------------------------------------------------------------------------------------


def test_pharmacies_are_added_preferred_and_removed(world: World) -> None:
    client = signed_in(world)
    response = client.post(
        PHARMACIES, {"name": "Main Street Pharmacy", "address": "1 Main Street", "phone": ""}
    )
    assert response.status_code == 302
    first = Pharmacy.objects.get()
    assert first.preferred  # the first one saved is the default
    assert client.post(PHARMACIES, {"name": "Corner Pharmacy"}).status_code == 302
    corner = Pharmacy.objects.get(name="Corner Pharmacy")
    assert not corner.preferred
    assert client.post(reverse("refills:prefer_pharmacy", args=[corner.pk])).status_code == 302
    first.refresh_from_db()
    corner.refresh_from_db()
    assert corner.preferred and not first.preferred

    refill = request_refill(world, medication(world), pharmacy=corner)
    assert client.post(reverse("refills:remove_pharmacy", args=[corner.pk])).status_code == 302
    corner.refresh_from_db()
    assert corner.removed_at is not None and not corner.preferred
    refill.refresh_from_db()
    assert refill.pharmacy == corner  # a request keeps the pharmacy it went to
    client.get(PHARMACIES)  # shows (and so clears) the messages naming it
    page = client.get(PHARMACIES).content.decode()
    assert "Corner Pharmacy" not in page and "Main Street Pharmacy" in page
    assert "Corner Pharmacy" not in client.get(NEW).content.decode()
    assert "Corner Pharmacy" in client.get(LIST).content.decode()
    actions = set(AuditEvent.objects.filter(patient_id=world.alice.pk).values_list("action", flat=True))
    assert {"refills.pharmacy_save", "refills.pharmacy_prefer", "refills.pharmacy_remove"} <= actions


def test_a_pharmacy_needs_a_name_and_short_fields(world: World) -> None:
    client = signed_in(world)
    for data in ({"name": ""}, {"name": "x" * 151}, {"name": "Ok", "phone": "1" * 31}):
        response = client.post(PHARMACIES, data)
        assert response.status_code == 400
        assert "There is a problem" in response.content.decode()
    assert not Pharmacy.objects.exists()


def test_another_patient_s_pharmacy_is_the_same_as_a_missing_one(world: World) -> None:
    bobs = Pharmacy.objects.create(patient=world.bob, name="Bob's pharmacy", preferred=False)
    removed = make_pharmacy(world, "Old Pharmacy", removed_at=timezone.now())
    client = signed_in(world)
    for name in ("refills:prefer_pharmacy", "refills:remove_pharmacy"):
        missing = client.post(reverse(name, args=[MISSING]))
        assert_same_as_missing(client.post(reverse(name, args=[bobs.pk])), missing)
        assert_same_as_missing(client.post(reverse(name, args=[removed.pk])), missing)
    bobs.refresh_from_db()
    assert bobs.removed_at is None and not bobs.preferred
    assert client.get(reverse("refills:prefer_pharmacy", args=[MISSING])).status_code == 405


# The medication list ---------------------------------------------------------------------------


def test_the_medication_list_shows_refill_status_and_how_to_ask(world: World) -> None:
    requested = medication(world, "Lisinopril")
    approved = medication(world, "Metformin")
    denied = medication(world, "Atorvastatin")
    fresh = medication(world, "Amlodipine")
    controlled = medication(world, "Oxycodone", renewable_online=False, not_renewable_reason="Controlled.")
    request_refill(world, requested)
    decided_on = timezone.now() - dt.timedelta(days=3)
    for med, status in ((approved, RefillRequest.Status.APPROVED), (denied, RefillRequest.Status.DENIED)):
        refill = request_refill(world, med)
        RefillRequest.objects.filter(pk=refill.pk).update(status=status, decided_at=decided_on)
    page = signed_in(world).get(MEDICATIONS).content.decode()
    when = campus_time.date_label(decided_on, world.campus)
    assert "Refill requested" in page
    assert f"Refill approved {when}" in page and f"Refill denied {when}" in page
    assert "Cannot be refilled online: Controlled." in page
    link = f"{NEW}?medication="
    assert f"{link}{fresh.pk}" in page and f"{link}{approved.pk}" in page and f"{link}{denied.pk}" in page
    assert f"{link}{requested.pk}" not in page and f"{link}{controlled.pk}" not in page


def test_the_medication_list_offers_no_request_to_a_proxy_who_cannot_message(world: World) -> None:
    world.proxy_grant.scopes = [Scope.VIEW]
    world.proxy_grant.save()
    medication(world, "Lisinopril")
    medication(world, "Oxycodone", renewable_online=False)
    page = signed_in(world, "proxy").get(MEDICATIONS).content.decode()
    assert "Lisinopril" in page and "Request a refill" not in page
    assert "This medication cannot be refilled online. Call your care team." in page


def test_the_medication_list_costs_one_more_query_however_many_medications(world: World) -> None:
    client = signed_in(world)
    pharmacy = make_pharmacy(world)

    def add(count: int) -> None:
        start = Medication.objects.count()
        for number in range(start, start + count):
            med = medication(world, f"Drug {number:03d}", renewable_online=number % 3 != 0)
            if number % 2 and med.renewable_online:
                request_refill(world, med, pharmacy=pharmacy)

    add(5)
    client.get(MEDICATIONS)  # the first request of a session records the session
    few = query_count(lambda: client.get(MEDICATIONS))
    add(45)
    response = client.get(MEDICATIONS)
    assert response.content.decode().count("Refill requested") >= 10
    assert query_count(lambda: client.get(MEDICATIONS)) == few
