"""No health information leaves the portal by email or text message.

First every text that can ever be sent (`outbound.OUTBOUND`, `STAFF_OUTBOUND`) in every
language; then the flows that notify, run for a patient whose name, clinic number,
clinician, tests, care team and campus are distinctive words, checking every queued
email and text and every message actually delivered.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.messaging.tests.support import messaging_world, staff_reply, start_thread
from portal.notifications import outbox
from portal.notifications.models import MailboxEntry, OutboxMessage
from portal.notifications.outbound import OUTBOUND, STAFF_OUTBOUND
from portal.patients.access import PatientAccess, decide
from portal.patients.models import CommunicationPreference, Patient
from portal.records import actions as records
from portal.records.tests.support import make_note, make_panel
from portal.scheduling import actions_desk
from portal.scheduling.booking import do_cancel_appointment
from portal.scheduling.models import AppointmentRequest
from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world
from portal.test import World

pytestmark = pytest.mark.django_db

# Words that would say something about someone's health or care, in the languages the
# portal speaks. Matched case-insensitively, as whole-word prefixes.
HEALTH_WORDS = [
    # English
    "result",
    "test",
    "lab",
    "diagnos",
    "biopsy",
    "cancer",
    "hiv",
    "pregnan",
    "scan",
    "x-ray",
    "prescri",
    "medicat",
    "dose",
    "refill",
    "referr",
    "clinician",
    "doctor",
    "dr",
    "nurse",
    "physician",
    "department",
    "specialt",
    "therap",
    "surgery",
    "mental",
    "psychiatr",
    "cardio",
    "oncolog",
    "follow-up",
    "consult",
    "video",
    "campus",
    "positive",
    "negative",
    "abnormal",
    "urgent",
    # Spanish
    "resultado",
    "prueba",
    "análisis",
    "diagnóstic",
    "receta",
    "medicament",
    "médic",
    "enfermer",
    "especialidad",
    "terapia",
    "cirug",
    "embaraz",
    "positivo",
    "negativo",
]
# A clock time or a date would place a visit.
VISIT_DETAILS = re.compile(r"\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}|\b\d{1,2}/\d{1,2}\b")
PLACEHOLDER = re.compile(r"%\(|%[sd]|\{")


def every_outbound_text() -> list[str]:
    return [text for pair in [*OUTBOUND.values(), STAFF_OUTBOUND] for text in pair]


def health_words_in(text: str) -> list[str]:
    return [word for word in HEALTH_WORDS if re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE)]


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_no_outbound_text_has_a_placeholder_or_a_health_word(language: str) -> None:
    texts = every_outbound_text()
    assert len(texts) >= 12  # four kinds, the reminder, and the staff text
    with translation.override(language):
        for text in texts:
            translated = _(text)
            assert translated.strip(), text
            assert not PLACEHOLDER.search(translated), translated
            assert not VISIT_DETAILS.search(translated), translated
            assert health_words_in(translated) == [], translated


def test_the_word_list_catches_what_it_should() -> None:
    assert health_words_in("Your HIV test result is ready") == ["result", "test", "hiv"]
    assert {"resultado", "prueba"} <= set(health_words_in("Su resultado de la prueba"))
    assert VISIT_DETAILS.search("Follow-up at 9:30 AM")
    assert PLACEHOLDER.search("A visit with %(clinician)s")
    assert health_words_in("You have a new message in the patient portal.") == []


# The flows ---------------------------------------------------------------------------------

DISTINCTIVE = {
    "patient given name": "Zebulonia",
    "patient family name": "Quarrington",
    "clinic number": "80470312",
    "clinician given name": "Ottoline",
    "clinician family name": "Vexworthy",
    "care team": "Marigoldcare",
    "scheduling desk": "Wyvernholt bookings",
    "campus": "Wyvernholt",
    "campus address": "Gryphon Quay",
    "department": "Thistleology",
    "visit type": "Quillon review",
    "result report": "Zymoscope panel",
    "result value": "Ferritinoid",
    "note": "Brambleworth note",
    "message subject": "Kestrelpox rash",
    "message body": "Snorkelitis",
    "request reason": "Wobbleknee",
}


def make_distinctive(world: World) -> None:
    """Give the patient and everyone and everything around her a name no fixed text could contain."""
    Patient.objects.filter(pk=world.alice.pk).update(
        given_name=DISTINCTIVE["patient given name"],
        family_name=DISTINCTIVE["patient family name"],
        clinic_number=DISTINCTIVE["clinic number"],
        mobile_phone="507-555-0142",
    )
    world.alice.refresh_from_db()
    world.alice_user.first_name = DISTINCTIVE["patient given name"]
    world.alice_user.last_name = DISTINCTIVE["patient family name"]
    world.alice_user.save()
    practitioner = world.clinician.practitioner
    practitioner.given_name = DISTINCTIVE["clinician given name"]
    practitioner.family_name = DISTINCTIVE["clinician family name"]
    practitioner.save()
    world.care_team.name = DISTINCTIVE["care team"]
    world.care_team.save()
    world.scheduling_desk.name = DISTINCTIVE["scheduling desk"]
    world.scheduling_desk.save()
    campus = world.campus
    campus.name = f"{DISTINCTIVE['campus']} Harbour"
    campus.short_name = DISTINCTIVE["campus"]
    campus.address_line = f"9 {DISTINCTIVE['campus address']}"
    campus.save()
    # Texts too, for every kind: consent recorded for her number.
    CommunicationPreference.objects.create(
        patient=world.alice,
        sms_updates=True,
        sms_consented_at=timezone.now(),
        sms_consented_by=world.alice_user,
        sms_consent_phone="507-555-0142",
        sms_kinds=["messages", "results", "appointments", "billing"],
    )


def staff_access(world: World, user: object) -> PatientAccess:
    access = decide(user, world.alice)
    assert access is not None
    return access


def run_every_notifying_flow(world: World) -> dt.datetime:
    """Everything that tells the patient's side something; returns when the last reminder is due."""
    sw = scheduling_world(world)
    sw.department.name = DISTINCTIVE["department"]
    sw.department.save()
    sw.follow_up.name = DISTINCTIVE["visit type"]
    sw.follow_up.save()
    clinician = Actor(user=world.clinician)
    # A held result released by the clinician.
    report = make_panel(
        world.alice,
        DISTINCTIVE["result report"],
        available_at=timezone.now() + dt.timedelta(hours=24),
        hold_reason="Clinician review first",
        values=[("1-1", DISTINCTIVE["result value"], "99", "ng/mL", "10", "80")],
    )
    assert records.do_release_result(clinician, staff_access(world, world.clinician), report)
    # A clinical note corrected.
    note = make_note(world.alice, DISTINCTIVE["note"])
    records.do_correct_note(
        clinician,
        staff_access(world, world.clinician),
        note,
        f"{DISTINCTIVE['note']} (amended)",
        "Corrected dose.",
        "Typo",
    )
    # A booking with reminders, and another booked then cancelled.
    kept = book(sw, make_slot(sw, local_moment(world.campus, 10, 9)))
    cancelled = book(sw, make_slot(sw, local_moment(world.campus, 12, 9)))
    patient_access = decide(world.alice_user, world.alice)
    assert patient_access is not None
    do_cancel_appointment(Actor(user=world.alice_user), patient_access, cancelled, "Feeling better")
    # The scheduling desk answers two requests: one booked, one declined.
    desk = Actor(user=world.scheduler)
    desk_access = staff_access(world, world.scheduler)
    booked_request = AppointmentRequest.objects.create(
        patient=world.alice,
        campus=world.campus,
        department=sw.department,
        reason=DISTINCTIVE["request reason"],
        created_by=world.alice_user,
    )
    actions_desk.do_book_request(
        desk,
        desk_access,
        booked_request,
        make_slot(sw, local_moment(world.campus, 14, 11)),
        sw.follow_up,
        reply=f"Booked with {DISTINCTIVE['clinician family name']}",
    )
    declined_request = AppointmentRequest.objects.create(
        patient=world.alice,
        campus=world.campus,
        department=sw.department,
        reason=DISTINCTIVE["request reason"],
        created_by=world.alice_user,
    )
    actions_desk.do_decline_request(desk, desk_access, declined_request, f"See {DISTINCTIVE['department']}")
    # A conversation: the patient writes, the nurse replies, the patient answers back.
    clinic = messaging_world(world)
    thread = start_thread(world, subject=DISTINCTIVE["message subject"], body=DISTINCTIVE["message body"])
    staff_reply(thread, clinic.nurse, body=f"About your {DISTINCTIVE['message body']}")
    return kept.starts_at - dt.timedelta(hours=1)


def leaked(text: str) -> list[str]:
    return [what for what, word in DISTINCTIVE.items() if word.casefold() in text.casefold()]


def test_no_email_or_text_from_any_flow_carries_health_information(world: World) -> None:
    make_distinctive(world)
    last_due = run_every_notifying_flow(world)

    outbound = OutboxMessage.objects.exclude(channel=OutboxMessage.Channel.IN_APP)
    channels = set(outbound.values_list("channel", flat=True))
    assert channels == {OutboxMessage.Channel.EMAIL, OutboxMessage.Channel.SMS}
    topics = {topic.split(".")[0] for topic in outbound.values_list("topic", flat=True)}
    assert {"records", "scheduling", "messaging"} <= topics
    patient_texts = {text for pair in OUTBOUND.values() for text in pair}
    staff_texts = set(STAFF_OUTBOUND)
    for message in outbound:
        allowed = staff_texts if message.for_staff else patient_texts
        assert message.subject in allowed, message.subject
        assert message.body in allowed, message.body
        assert leaked(f"{message.subject} {message.body} {message.link}") == []
    # The portal itself does name things: the test would notice if the flows were empty.
    in_app = " ".join(
        OutboxMessage.objects.filter(channel=OutboxMessage.Channel.IN_APP).values_list("body", flat=True)
    )
    assert DISTINCTIVE["visit type"] in in_app

    outbox.deliver_due()
    with time_machine.travel(last_due, tick=False):
        outbox.deliver_due(limit=1000)
    assert len(mail.outbox) >= 8
    for email in mail.outbox:
        whole = f"{email.subject}\n{email.body}\n" + "\n".join(
            str(content) for content, _type in getattr(email, "alternatives", [])
        )
        assert leaked(whole) == [], whole
        assert health_words_in(str(email.subject)) == []
    texts = MailboxEntry.objects.filter(channel=OutboxMessage.Channel.SMS)
    assert texts.exists()
    for text in texts:
        assert leaked(f"{text.subject} {text.body}") == [], text.body
