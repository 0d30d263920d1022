"""An adolescent's confidential care never reaches a parent's token through the clinic's resources.

A clinician, a campus and a visit that the teen's record knows only through confidential
rows stay hidden from the parent in Practitioner, Location, CareTeam, Encounter, CarePlan,
every `_include` and `Patient/$everything`; rows the parent may see name no hidden visit.
The teen's own token sees all of it (so each check can fail).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest

from portal.accounts.models import User
from portal.fhir.tests.test_api_gaps_capability import fetch, ids, refused, valid, walk
from portal.fhir.tests.test_api_gaps_documents import make_file
from portal.organization.models import Campus, Practitioner
from portal.patients.models import Patient
from portal.records.models import Document, Encounter, Procedure, ResultReport
from portal.records.tests.support import days_ago, make_medication, make_note, make_panel, make_visit
from portal.records.tests.test_release_rules import adolescent
from portal.smart.tests.support import issue_token
from portal.test import World


@dataclass
class Teen:
    patient: Patient
    user: User
    parent: User
    mind: Practitioner  # seen only in confidential care
    valley: Campus  # visited only for confidential care
    secret_visit: Encounter
    open_visit: Encounter
    form: Document  # not confidential, but from the confidential visit
    procedure: Procedure  # likewise
    report: ResultReport  # likewise


@pytest.fixture
def teen(world: World) -> Teen:
    patient, user, parent = adolescent(world)
    mind = Practitioner.objects.create(
        given_name="Morgan", family_name="Mind", role="physician", npi="1234567893"
    )
    valley = Campus.objects.create(
        slug="valley",
        name="Hidden Valley Clinic",
        short_name="Valley",
        address_line="1 Quiet Road",
        city="Valley",
        postal_code="55000",
        time_zone="America/Chicago",
        zone_label="Central time",
        main_phone="507-555-0999",
        appointments_phone="507-555-0998",
    )
    secret = make_visit(
        patient,
        sensitivity="mental-health",
        practitioner=mind,
        practitioner_name="Morgan Mind, MD",
        campus=valley,
        reason="Counselling",
        instructions="Keep the mood diary.",
    )
    open_visit = make_visit(
        patient, practitioner=world.clinician.practitioner, campus=world.campus, started_at=days_ago(30)
    )
    make_note(patient, "Counselling note", sensitivity="mental-health", author=mind, encounter=secret)
    make_medication(patient, "Sertraline", sensitivity="mental-health", prescriber=mind)
    make_medication(patient, "Salbutamol inhaler", prescriber=world.clinician.practitioner)
    form = make_file(patient, "School absence form", dt.date(2025, 4, 1), encounter=secret)
    procedure = Procedure.objects.create(
        patient=patient,
        name="Height and weight",
        performed_at=days_ago(9),
        campus=world.campus,
        encounter=secret,
    )
    report = make_panel(patient, "Thyroid panel", encounter=secret)
    return Teen(patient, user, parent, mind, valley, secret, open_visit, form, procedure, report)


def names(teen: Teen) -> dict[str, str]:
    return {
        "practitioner": f"Practitioner/practitioner-{teen.mind.pk}",
        "location": f"Location/campus-{teen.valley.pk}",
        "visit": f"encounter-{teen.secret_visit.pk}",
    }


def test_the_parent_sees_no_hidden_clinician_place_or_visit(world: World, teen: Teen) -> None:
    parent = issue_token(teen.parent, teen.patient)
    hidden = names(teen)
    assert ids(walk(parent, "Practitioner")) == {
        f"Practitioner/practitioner-{world.clinician.practitioner.pk}"
    }
    assert hidden["location"] not in ids(walk(parent, "Location"))
    assert f"Encounter/{hidden['visit']}" not in ids(walk(parent, "Encounter"))
    assert f"CarePlan/visitplan-{teen.secret_visit.pk}" not in ids(walk(parent, "CarePlan"))
    assert f"CarePlan/visitplan-{teen.open_visit.pk}" in ids(walk(parent, "CarePlan"))
    (team,) = walk(parent, "CareTeam")
    assert [p["member"]["reference"] for p in team["participant"]] == [
        f"Practitioner/practitioner-{world.clinician.practitioner.pk}"
    ]
    for path in (
        hidden["practitioner"],
        hidden["location"],
        f"Encounter/{hidden['visit']}",
        f"CarePlan/visitplan-{teen.secret_visit.pk}",
    ):
        refused(fetch(parent, path), 404)


def test_rows_the_parent_sees_name_no_hidden_visit(world: World, teen: Teen) -> None:
    parent = issue_token(teen.parent, teen.patient)
    form = valid(fetch(parent, f"DocumentReference/document-{teen.form.pk}"))
    procedure = valid(fetch(parent, f"Procedure/procedure-{teen.procedure.pk}"))
    report = valid(fetch(parent, f"DiagnosticReport/resultreport-{teen.report.pk}"))
    assert "context" not in form and "encounter" not in procedure and "encounter" not in report
    assert names(teen)["visit"] not in json.dumps([form, procedure, report])
    # The teen's own token names the visit and its period.
    own = issue_token(teen.user, teen.patient)
    mine = valid(fetch(own, f"DocumentReference/document-{teen.form.pk}"))
    assert mine["context"]["encounter"] == [{"reference": f"Encounter/{names(teen)['visit']}"}]
    assert mine["context"]["period"]["start"]
    assert "encounter" in valid(fetch(own, f"Procedure/procedure-{teen.procedure.pk}"))


INCLUDES = (
    "Encounter?_include=Encounter:practitioner&_include=Encounter:location&_include=Encounter:service-provider",
    "DocumentReference?_include=DocumentReference:author",
    "MedicationRequest?_include=MedicationRequest:requester",
    "CareTeam?_include=CareTeam:participant",
    "Location?_include=Location:organization",
)


def _everything_text(token: str, teen: Teen) -> str:
    return json.dumps(walk(token, f"Patient/patient-{teen.patient.pk}/$everything?_count=7"))


@pytest.mark.parametrize("query", INCLUDES)
def test_no_include_reaches_them(world: World, teen: Teen, query: str) -> None:
    parent = issue_token(teen.parent, teen.patient)
    text = json.dumps([valid(fetch(parent, query))])
    for hidden in names(teen).values():
        assert hidden not in text
    assert "Morgan" not in text and "Hidden Valley" not in text
    own = json.dumps([valid(fetch(issue_token(teen.user, teen.patient), query))])
    if not query.startswith("CareTeam"):  # Morgan is in no care team of hers
        assert "Morgan" in own or "Hidden Valley" in own


def test_everything_says_nothing_of_them_to_the_parent(world: World, teen: Teen) -> None:
    text = _everything_text(issue_token(teen.parent, teen.patient), teen)
    for hidden in names(teen).values():
        assert hidden not in text
    assert "Morgan" not in text and "Hidden Valley" not in text and "Sertraline" not in text
    assert "Salbutamol" in text and f"practitioner-{world.clinician.practitioner.pk}" in text
    own = _everything_text(issue_token(teen.user, teen.patient), teen)
    assert "Morgan" in own and "Hidden Valley" in own and names(teen)["visit"] in own


def test_the_clinic_directory_is_the_same_for_everyone(world: World, teen: Teen) -> None:
    """Organization lists every campus for any token: it says nothing about whose care was where."""
    parent = issue_token(teen.parent, teen.patient)
    stranger = issue_token(world.bob_user, world.bob)
    assert ids(walk(parent, "Organization")) == ids(walk(stranger, "Organization"))
    assert f"Organization/campus-{teen.valley.pk}" in ids(walk(stranger, "Organization"))
