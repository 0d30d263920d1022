"""Registration's additions to the shared personas: a newcomer and the office staff."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.lib import challenge
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import CareRelationship, Patient
from portal.registration.actions import IssuedCode, do_issue_activation_code
from portal.test import PER_RENDER, World, make_patient, make_staff

NEWCOMER_NUMBER = "10000042"


def make_newcomer(world: World, birth_date: dt.date = dt.date(1990, 3, 4)) -> Patient:
    """A patient of the clinic with no account yet, cared for by the world's care team."""
    patient = make_patient(NEWCOMER_NUMBER, "Nina", "Newman", world.campus)
    patient.birth_date = birth_date
    patient.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=patient, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    return patient


def issue(world: World, patient: Patient) -> IssuedCode:
    return do_issue_activation_code(Actor(user=world.clinician, client_ip="127.0.0.1"), patient)


def make_international_office(campus: Campus | None = None) -> tuple[CareTeam, User]:
    office = CareTeam.objects.create(
        slug="international-office",
        name="International office",
        kind=CareTeam.Kind.INTERNATIONAL_OFFICE,
        phone="+1 507-555-0133",
        email="international@example.org",
    )
    officer = make_staff("ingrid", Practitioner.Role.INTERPRETER, office)
    return office, officer


def make_other_campus_desk() -> tuple[Campus, User]:
    campus = Campus.objects.create(
        slug="jacksonville",
        name="Jacksonville, Florida",
        short_name="Jacksonville",
        address_line="4800 Palm Harbor Parkway",
        city="Jacksonville",
        region="FL",
        postal_code="32224",
        time_zone="America/New_York",
        zone_label="Eastern time",
        main_phone="904-555-0100",
        appointments_phone="904-555-0111",
    )
    desk = CareTeam.objects.create(
        slug="jax-desk",
        name="Jacksonville scheduling desk",
        campus=campus,
        kind=CareTeam.Kind.SCHEDULING_DESK,
    )
    return campus, make_staff("jules", Practitioner.Role.SCHEDULER, desk)


def solved_challenge() -> dict[str, str]:
    token = challenge.issue().token
    return {"challenge": token, "challenge_proof": challenge.solve(token)}


def identity(patient: Patient, code: str, **changes: Any) -> dict[str, Any]:
    """What a visitor types on "Create account", with a solved challenge."""
    data = {
        "clinic_number": patient.clinic_number,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat(),
        "email": "nina@example.net",
        "activation_code": code,
        **solved_challenge(),
    }
    data.update(changes)
    return data


CHALLENGE = re.compile(rb'(name="challenge" value=")[^"]*"|What is \d+ plus \d+\?')


def masked(content: bytes) -> bytes:
    """A page without what differs on every render: CSRF token and the security challenge."""
    return CHALLENGE.sub(b"", PER_RENDER.sub(b"", content))
