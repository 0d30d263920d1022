"""Telehealth rows for tests: a video visit happening now, an interpreter, and an e-visit condition.

`telehealth_world(world)` adds to the shared World: Alice's video appointment with Carol
starting now (joinable), Ivy (an interpreter) and Nora (a second clinician, not in
Alice's care team), and a "Cold and flu" e-visit condition answered by Carol's care
team, with a red-flag question ("trouble breathing": yes stops the e-visit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.test import Client
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing.models import PriceItem
from portal.organization.models import Practitioner
from portal.patients.access import PatientAccess, decide, visit_access
from portal.patients.models import Patient
from portal.scheduling.models import Appointment, Mode, Questionnaire
from portal.scheduling.tests.support import SchedulingWorld, scheduling_world
from portal.telehealth import video
from portal.telehealth.models import EVisitCondition, Participant
from portal.test import PASSWORD, World, make_staff

COLD_QUESTIONS = [
    {"linkId": "days", "text": "How many days have you had symptoms?", "type": "integer", "required": True},
    {"linkId": "fever", "text": "Do you have a fever?", "type": "boolean", "required": True},
    {"linkId": "breathing", "text": "Do you have trouble breathing?", "type": "boolean", "required": True},
    {"linkId": "notes", "text": "Anything else the clinician should know?", "type": "text"},
]


@dataclass
class TelehealthWorld:
    world: World
    sw: SchedulingWorld
    appointment: Appointment  # Alice's video visit with Carol, now
    interpreter: User  # ivy
    second_clinician: User  # nora
    condition: EVisitCondition  # cold and flu, reviewed by world.care_team (Carol)


def telehealth_world(world: World) -> TelehealthWorld:
    sw = scheduling_world(world)
    interpreter = make_staff("ivy", Practitioner.Role.INTERPRETER)
    second = make_staff("nora", Practitioner.Role.NURSE_PRACTITIONER)
    return TelehealthWorld(
        world=world,
        sw=sw,
        appointment=video_appointment(sw, world.alice),
        interpreter=interpreter,
        second_clinician=second,
        condition=cold_and_flu(world),
    )


def video_appointment(
    sw: SchedulingWorld, patient: Patient, starts_in: dt.timedelta = dt.timedelta(minutes=5)
) -> Appointment:
    starts_at = timezone.now() + starts_in
    return Appointment.objects.create(
        patient=patient,
        visit_type=sw.video,
        practitioner=sw.clinician,
        campus=sw.world.campus,
        department=sw.department,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=30),
        mode=Mode.VIDEO,
        reason="Follow-up on blood pressure",
    )


def cold_and_flu(world: World) -> EVisitCondition:
    questionnaire = Questionnaire.objects.create(
        slug="evisit-cold", title="Cold and flu", items=COLD_QUESTIONS
    )
    price = PriceItem.objects.get_or_create(
        code="99421",
        defaults={
            "description": "E-visit, 5-10 minutes",
            "price_cents": 35_00,
            "self_pay_price_cents": 35_00,
        },
    )[0]
    return EVisitCondition.objects.create(
        slug="cold-and-flu",
        name="Cold and flu symptoms",
        description="Cough, sore throat, runny nose, body aches.",
        questionnaire=questionnaire,
        price_item=price,
        review_team=world.care_team,
        red_flags=[
            {
                "linkId": "breathing",
                "answers": ["yes"],
                "advice": "emergency",
                "message": "Trouble breathing needs care now.",
            }
        ],
    )


def patient_access(user: User, patient: Patient) -> PatientAccess:
    access = decide(user, patient)
    assert access is not None
    return access


def host_access(tw: TelehealthWorld, user: User | None = None) -> PatientAccess:
    user = user or tw.world.clinician
    access = visit_access(
        user,
        tw.appointment.patient,
        booked_with=tw.appointment.practitioner_id,
        invited=user != tw.world.clinician,
    )
    assert access is not None
    return access


def waiting_patient(tw: TelehealthWorld, user: User | None = None) -> Participant:
    """Alice (or `user`) in the waiting room, through the real action."""
    user = user or tw.world.alice_user
    return video.do_enter_waiting_room(Actor(user=user), patient_access(user, tw.world.alice), tw.appointment)


def in_call(tw: TelehealthWorld) -> tuple[Participant, Participant]:
    """Carol hosting and Alice admitted: (host, patient)."""
    patient = waiting_patient(tw)
    host = video.do_staff_join(Actor(user=tw.world.clinician), host_access(tw), tw.appointment)
    video.do_admit(Actor(user=tw.world.clinician), host_access(tw), host.visit)
    patient.refresh_from_db()
    return host, patient


def client_for(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client
