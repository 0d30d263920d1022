from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.patients.models import BreakGlassAccess
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db
REASON = "Patient arrived unconscious in the emergency department"


def _search(client: Client, **query: str) -> str:
    response = client.get(reverse("staff:home"), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_clinician_finds_their_patients_by_name_number_and_birth_date(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    assert "Able, Alice" in _search(client, q="ali")
    assert "Able, Alice" in _search(client, q="10000001")
    assert "Able, Alice" in _search(client, birth_date="1980-05-17")
    assert "Baker" not in _search(client, birth_date="1980-05-17")


def test_unassigned_staff_find_nobody(client: Client, world: World) -> None:
    client.force_login(world.unassigned_staff)
    page = _search(client, q="Able")
    assert "Able, Alice" not in page
    assert "emergency access" in page


def test_the_scheduling_desk_reaches_every_patient(client: Client, world: World) -> None:
    client.force_login(world.scheduler)
    page = _search(client, q="b")
    assert "Baker, Bob" in page


def test_an_empty_search_asks_for_something(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    assert "Enter a name, a clinic number or a date of birth." in _search(client, q="")
    assert "There is a problem" in _search(client, birth_date="not-a-date")


@pytest.mark.parametrize("persona", ["patient", "proxy", "other_patient"])
def test_patients_cannot_enter_the_workspace(client: Client, world: World, persona: str) -> None:
    client.force_login(world.persona(persona))
    assert client.get(reverse("staff:home")).status_code == 404
    assert client.get(reverse("staff:patient", args=[world.alice.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    response = client.get(reverse("staff:patient", args=[world.alice.pk]))
    assert response.status_code == 302


def test_the_patient_page_is_audited_for_the_care_team(client: Client, world: World) -> None:
    client.force_login(world.clinician)
    response = client.get(reverse("staff:patient", args=[world.alice.pk]))
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="patient.view")
    assert (event.actor_id, event.patient_id, event.actor_role, event.flagged) == (
        world.clinician.pk,
        world.alice.pk,
        "staff",
        False,
    )


@pytest.mark.parametrize("persona", ["unassigned_staff", "admin"])
def test_other_staff_get_the_same_404_as_a_missing_patient(
    client: Client, world: World, persona: str
) -> None:
    client.force_login(world.persona(persona))
    foreign = client.get(reverse("staff:patient", args=[world.alice.pk]))
    missing = client.get(reverse("staff:patient", args=[987654]))
    assert_same_as_missing(foreign, missing)
    assert AuditEvent.objects.filter(action="access.refused", patient_id=world.alice.pk).exists()


def test_break_glass_opens_the_record_audited_and_flagged(client: Client, world: World) -> None:
    client.force_login(world.unassigned_staff)
    response = client.post(
        reverse("staff:break_glass"), {"clinic_number": "10000001", "reason": REASON, "confirm": "on"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "emergency access" in page
    grant_event = AuditEvent.objects.get(action="access.break_glass")
    view_event = AuditEvent.objects.get(action="patient.view")
    assert grant_event.flagged and view_event.flagged
    assert view_event.actor_role == "break_glass"
    assert grant_event.detail["reason"] == REASON


@pytest.mark.parametrize(
    "form",
    [
        {"clinic_number": "10000001", "reason": "short", "confirm": "on"},
        {"clinic_number": "10000001", "reason": REASON},
        {"clinic_number": "99999999", "reason": REASON, "confirm": "on"},
        {"clinic_number": "", "reason": "", "confirm": ""},
    ],
)
def test_break_glass_refuses_bad_input_and_changes_nothing(
    client: Client, world: World, form: dict[str, str]
) -> None:
    client.force_login(world.unassigned_staff)
    response = client.post(reverse("staff:break_glass"), form)
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert not BreakGlassAccess.objects.exists()
    assert not AuditEvent.objects.filter(action="access.break_glass").exists()


def test_patients_cannot_break_glass(client: Client, world: World) -> None:
    client.force_login(world.bob_user)
    response = client.post(
        reverse("staff:break_glass"), {"clinic_number": "10000001", "reason": REASON, "confirm": "on"}
    )
    assert response.status_code == 404
    assert not BreakGlassAccess.objects.exists()


def test_search_runs_a_fixed_number_of_queries(client: Client, world: World) -> None:
    from portal.patients.models import CareRelationship, Patient

    client.force_login(world.clinician)
    url = reverse("staff:home")
    client.get(url)  # the first request of a session records it (allauth usersessions)
    small = query_count(lambda: client.get(url, {"q": "a"}))
    for n in range(30):
        patient = Patient.objects.create(
            clinic_number=f"2000{n:04d}",
            given_name=f"Ann{n}",
            family_name="Abbot",
            birth_date=world.alice.birth_date,
            sex_at_birth="female",
            primary_campus=world.campus,
        )
        CareRelationship.objects.create(patient=patient, care_team=world.care_team)
    assert "Abbot, Ann29" in client.get(url, {"q": "a"}).content.decode()
    assert query_count(lambda: client.get(url, {"q": "a"})) == small
