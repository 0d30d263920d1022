"""An adolescent's confidential care in messaging: a parent of a 12-17-year-old never sees,
finds, counts, opens, answers or hears about a conversation in one of the clinic's
confidential categories; the teenager does, and staff see it labelled. Subjects never
name a result, a visit or a medication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.messaging import actions, staff_actions
from portal.messaging.access import patient_threads
from portal.messaging.models import Message, Pharmacy, Referral, RefillRequest, Thread, Topic
from portal.messaging.tests.support import messaging_world, pdf_upload, staff_reply
from portal.messaging.tests.test_refills import form as refill_form
from portal.notifications.models import Notification, OutboxMessage
from portal.patients.access import decide, pool_access
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.records.models import Medication, ResultReport
from portal.records.tests.support import make_medication, make_panel
from portal.records.tests.test_release_rules import adolescent
from portal.test import World, assert_same_as_missing

pytestmark = pytest.mark.django_db

MISSING = 987654321


@dataclass
class Family:
    """Tess, 15, with her own sign-in; Paula, her parent, who may view and message."""

    world: World
    teen: Patient
    tess: User
    parent: User

    def access(self, user: User) -> Any:
        found = decide(user, self.teen)
        assert found is not None
        return found


@pytest.fixture
def family(world: World) -> Family:
    messaging_world(world)
    teen, tess, parent = adolescent(world)
    ProxyGrant.objects.filter(grantee=parent, patient=teen).update(scopes=[Scope.VIEW, Scope.MESSAGE])
    return Family(world, teen, tess, parent)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sertraline(family: Family) -> Medication:
    return make_medication(
        family.teen, "Sertraline", sensitivity="mental-health", prescriber=family.world.clinician.practitioner
    )


def ask_for_refill(family: Family, *medications: Medication) -> RefillRequest:
    from portal.messaging.actions_refills import do_request_refill

    pharmacy = Pharmacy.objects.create(patient=family.teen, name="Corner Pharmacy")
    return do_request_refill(
        Actor.system(),
        family.access(family.tess),
        medication_ids=[medication.pk for medication in medications],
        pharmacy=pharmacy,
    )


def start(family: Family, subject: str = "A question", **draft: Any) -> Thread:
    return actions.do_start_thread(
        Actor.system(),
        family.access(family.tess),
        topic=Topic.MEDICAL,
        care_team=family.world.care_team,
        subject=subject,
        draft=actions.Draft(body=draft.pop("body", "Is this normal?"), **draft),
    )


def told(thread: Thread) -> set[str]:
    return set(
        Notification.objects.filter(
            for_staff=False, link=reverse("messaging:thread", args=[thread.pk])
        ).values_list("recipient__username", flat=True)
    )


def thread_url(thread: Thread | int, name: str = "thread") -> str:
    return reverse(f"messaging:{name}", args=[thread if isinstance(thread, int) else thread.pk])


# Where a confidential thread comes from ----------------------------------------------------------


def test_a_refill_of_a_confidential_medication_makes_a_confidential_thread(family: Family) -> None:
    inhaler = make_medication(
        family.teen, "Salbutamol inhaler", prescriber=family.world.clinician.practitioner
    )
    refill = ask_for_refill(family, sertraline(family), inhaler)
    thread = Thread.objects.get(refill_request=refill)
    assert thread.sensitivity == "mental-health"
    # The subject is generic; the names are only in the message the thread protects.
    assert thread.subject == "Prescription refill request"
    assert "Sertraline" in Message.objects.get(thread=thread).body

    ordinary = ask_for_refill(family, make_medication(family.teen, "Cetirizine"))
    assert Thread.objects.get(refill_request=ordinary).sensitivity == ""


def test_a_question_about_a_confidential_result_makes_a_confidential_thread(family: Family) -> None:
    secret = make_panel(family.teen, "Chlamydia screen", sensitivity="sexual-health")
    response = signed_in(family.tess).post(
        reverse("messaging:new"),
        {"topic": Topic.RESULT, "care_team": family.world.care_team.pk, "subject": "", "body": "What now?",
         "result": secret.pk},
    )  # fmt: skip
    assert response.status_code == 302
    thread = Thread.objects.get()
    assert thread.sensitivity == "sexual-health"
    assert thread.subject == "Question about a test result" and "Chlamydia" not in thread.subject


def test_a_parent_cannot_start_a_thread_about_what_they_may_not_see(family: Family) -> None:
    secret = make_panel(family.teen, "Chlamydia screen", sensitivity="sexual-health")
    with pytest.raises(actions.MessageRefused):
        actions.do_start_thread(
            Actor.system(),
            family.access(family.parent),
            topic=Topic.RESULT,
            care_team=family.world.care_team,
            subject="Hello",
            draft=actions.Draft(body="What is this?", result=secret),
        )
    assert not Thread.objects.exists() and not Message.objects.exists()


def test_default_subjects_never_name_the_result_or_the_visit(family: Family) -> None:
    from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world

    world = family.world
    sw = scheduling_world(world)
    visit = book(sw, make_slot(sw, local_moment(world.campus, 5, 9)))
    report = make_panel(world.alice, "HIV viral load")
    client = signed_in(world.alice_user)
    for topic, linked in (
        (Topic.APPOINTMENT, {"appointment": visit.pk}),
        (Topic.RESULT, {"result": report.pk}),
    ):
        data = {
            "topic": topic,
            "care_team": world.care_team.pk,
            "subject": "",
            "body": "A question.",
            **linked,
        }
        assert client.post(reverse("messaging:new"), data).status_code == 302
    subjects = set(Thread.objects.values_list("subject", flat=True))
    assert subjects == {"Question about an appointment", "Question about a test result"}


# What the parent does not see ------------------------------------------------------------------


def test_the_parent_never_sees_finds_opens_or_answers_a_confidential_thread(family: Family) -> None:
    refill = ask_for_refill(family, sertraline(family))
    secret = Thread.objects.get(refill_request=refill)
    ordinary = start(family, subject="Sports form")
    staff_reply(secret, family.world.clinician, body="Sertraline is approved, see you soon.")
    parent, tess = signed_in(family.parent), signed_in(family.tess)

    for client, sees in ((tess, True), (parent, False)):
        inbox = client.get(reverse("messaging:list")).content.decode()
        assert "Sports form" in inbox
        assert (thread_url(secret) in inbox) is sees
        for query in ("Sertraline", "refill", "approved"):
            found = client.get(reverse("messaging:list"), {"q": query}).content.decode()
            assert (thread_url(secret) in found) is sees
        unread = client.get(reverse("messaging:list"), {"unread": "on"}).content.decode()
        assert (thread_url(secret) in unread) is sees
        home = client.get(reverse("home")).content.decode()
        assert (thread_url(secret) in home) is sees
        assert ("1 unread message" in home) is sees
        refills = client.get(reverse("refills:list")).content.decode()
        assert (thread_url(secret) in refills) is sees
        # The teenager's proxy-free access lists it; the parent's leaves it out.
        listed = patient_threads(family.access(family.tess if sees else family.parent))
        assert listed.filter(pk=secret.pk).exists() is sees and listed.filter(pk=ordinary.pk).exists()

    assert tess.get(thread_url(secret)).status_code == 200
    assert_same_as_missing(parent.get(thread_url(secret)), parent.get(thread_url(MISSING)))
    data = {"body": "What medicine?"}
    assert_same_as_missing(
        parent.post(thread_url(secret, "reply"), data), parent.post(thread_url(MISSING, "reply"), data)
    )
    assert_same_as_missing(
        parent.post(thread_url(secret, "archive"), {"archive": "1"}),
        parent.post(thread_url(MISSING, "archive"), {"archive": "1"}),
    )
    secret.refresh_from_db()
    assert secret.archived_at is None and Message.objects.filter(thread=secret).count() == 2
    # Tess read the reply; the parent's attempts marked nothing.
    assert Message.objects.get(thread=secret, from_staff=True).read_by == family.tess
    assert AuditEvent.objects.filter(action="access.refused", actor_id=family.parent.pk).exists()

    # Nor through the actions themselves.
    with pytest.raises(actions.MessageRefused):
        actions.do_reply(Actor.system(), family.access(family.parent), secret, actions.Draft(body="Hi"))
    assert actions.do_mark_thread_read(Actor.system(), family.access(family.parent), secret) == 0


def test_the_parent_does_not_download_a_confidential_file(family: Family) -> None:
    from portal.lib.uploads import check_document_or_image

    checked = check_document_or_image(pdf_upload(), 10 * 1024 * 1024)
    thread = start(family, files=(checked,))
    thread.sensitivity = "mental-health"
    thread.save(update_fields=["sensitivity"])
    attachment = Message.objects.get(thread=thread).attachments.get()
    url = reverse("messaging:attachment", args=[attachment.pk])
    assert signed_in(family.tess).get(url).status_code == 200
    parent = signed_in(family.parent)
    assert_same_as_missing(parent.get(url), parent.get(reverse("messaging:attachment", args=[MISSING])))


def test_the_parent_is_not_told_of_replies_in_a_confidential_thread(family: Family) -> None:
    refill = ask_for_refill(family, sertraline(family))
    secret = Thread.objects.get(refill_request=refill)
    ordinary = start(family)
    Notification.objects.all().delete()
    OutboxMessage.objects.all().delete()
    staff_reply(secret, family.world.clinician)
    assert told(secret) == {"tess"}
    assert not OutboxMessage.objects.filter(recipient=family.parent).exists()
    assert OutboxMessage.objects.filter(recipient=family.tess).exists()
    staff_reply(ordinary, family.world.clinician)
    assert told(ordinary) == {"tess", "paula"}
    assert OutboxMessage.objects.filter(recipient=family.parent).exists()


def test_an_adult_patients_proxy_is_not_affected(family: Family) -> None:
    world = family.world
    report = make_panel(world.alice, "Pregnancy test", sensitivity="reproductive-health")
    thread = actions.do_start_thread(
        Actor.system(),
        decide(world.alice_user, world.alice),  # type: ignore[arg-type]
        topic=Topic.RESULT,
        care_team=world.care_team,
        subject="",
        draft=actions.Draft(body="Question", result=report),
    )
    assert thread.sensitivity == "reproductive-health"
    assert signed_in(world.proxy_user).get(thread_url(thread)).status_code == 200


# Staff -------------------------------------------------------------------------------------------


def test_staff_see_the_confidential_label(family: Family) -> None:
    refill = ask_for_refill(family, sertraline(family))
    clinician = signed_in(family.world.clinician)
    page = clinician.get(reverse("inbox:thread", args=[refill.thread_id])).content.decode()
    assert "Confidential: Mental health" in page
    assert "does not see this conversation" in page
    queue = clinician.get(reverse("inbox:queue")).content.decode()
    assert "Confidential" in queue


def test_staff_mark_a_thread_confidential_and_clear_it(family: Family) -> None:
    thread = start(family, subject="Feeling low")
    url = reverse("inbox:sensitivity", args=[thread.pk])
    parent, clinician = signed_in(family.parent), signed_in(family.world.clinician)
    assert parent.get(thread_url(thread)).status_code == 200

    response = clinician.post(url, {"sensitivity": "mental-health"})
    assert response.status_code == 302
    thread.refresh_from_db()
    assert thread.sensitivity == "mental-health"
    assert parent.get(thread_url(thread)).status_code == 404
    assert "Feeling low" not in parent.get(reverse("messaging:list")).content.decode()
    event = AuditEvent.objects.get(action="messaging.sensitivity")
    assert event.patient_id == family.teen.pk and event.detail["to"] == "mental-health"
    # The parent's access log does not say that something was marked.
    log = parent.get(reverse("audit:access_log")).content.decode()
    assert "who may see a conversation" not in log

    assert clinician.post(url, {"sensitivity": "astrology"}).status_code == 400
    thread.refresh_from_db()
    assert thread.sensitivity == "mental-health"

    # Replies from now on reach the teenager alone.
    staff_reply(thread, family.world.clinician)
    assert told(thread) == {"tess"}

    assert clinician.post(url, {"sensitivity": ""}).status_code == 302
    thread.refresh_from_db()
    assert thread.sensitivity == ""
    assert parent.get(thread_url(thread)).status_code == 200


def test_only_the_pool_marks_a_thread(family: Family) -> None:
    thread = start(family)
    url = reverse("inbox:sensitivity", args=[thread.pk])
    missing = reverse("inbox:sensitivity", args=[MISSING])
    world = family.world
    for user in (world.unassigned_staff, world.scheduler, world.admin):
        client = signed_in(user)
        data = {"sensitivity": "mental-health"}
        assert_same_as_missing(client.post(url, data), client.post(missing, data))
    for user in (family.tess, family.parent, world.bob_user):
        assert signed_in(user).post(url, {"sensitivity": "mental-health"}).status_code == 404
    assert Client().post(url, {"sensitivity": "mental-health"}).status_code == 302
    assert signed_in(world.clinician).get(url).status_code == 405
    thread.refresh_from_db()
    assert thread.sensitivity == "" and not AuditEvent.objects.filter(action="messaging.sensitivity").exists()
    access = pool_access(world.clinician, family.teen, thread.pool)
    with pytest.raises(staff_actions.InboxRefused):
        staff_actions.do_set_thread_sensitivity(Actor.system(), access, thread, "astrology")  # type: ignore[arg-type]


def test_staff_writing_first_may_keep_it_from_the_parent(family: Family) -> None:
    world = family.world
    data = {
        "pool": world.care_team.pk,
        "topic": Topic.MEDICAL,
        "subject": "Your appointment with counselling",
        "sensitivity": "mental-health",
        "body": "We have a time for you next week.",
        "status": Thread.Status.WAITING_ON_PATIENT,
    }
    response = signed_in(world.clinician).post(reverse("inbox:start", args=[family.teen.pk]), data)
    assert response.status_code == 302
    thread = Thread.objects.get()
    assert thread.sensitivity == "mental-health"
    assert told(thread) == {"tess"}
    assert signed_in(family.parent).get(thread_url(thread)).status_code == 404


def test_a_referral_marked_confidential_leaves_the_parents_referrals(family: Family) -> None:
    from portal.messaging.actions_referrals import do_request_referral
    from portal.organization.models import Department

    specialty = Department.objects.get(slug="cardiology")
    referral = do_request_referral(
        Actor.system(),
        family.access(family.tess),
        specialty=specialty,
        reason="Panic attacks",
        care_team=family.world.care_team,
    )
    assert referral.thread is not None and referral.thread.sensitivity == ""  # departments have no category
    detail = reverse("referrals:detail", args=[referral.pk])
    parent = signed_in(family.parent)
    assert parent.get(detail).status_code == 200
    Thread.objects.filter(referral=referral).update(sensitivity="mental-health")
    assert "Panic attacks" not in parent.get(reverse("referrals:list")).content.decode()
    assert_same_as_missing(parent.get(detail), parent.get(reverse("referrals:detail", args=[MISSING])))
    teen = signed_in(family.tess)
    assert "Panic attacks" in teen.get(detail).content.decode()
    assert Referral.objects.filter(pk=referral.pk).exists()


def test_result_reports_stay_confidential_in_a_shared_thread_too(family: Family) -> None:
    """A result link in a thread the parent may see (made before the rule) still hides the result."""
    secret = make_panel(family.teen, "Chlamydia screen", sensitivity="sexual-health")
    thread = start(family)
    Message.objects.filter(thread=thread).update(result=secret)
    page = signed_in(family.parent).get(thread_url(thread)).content.decode()
    assert "Chlamydia" not in page
    assert ResultReport.objects.filter(pk=secret.pk).exists()


def test_refill_form_still_offers_the_teenager_their_medication(family: Family) -> None:
    medication = sertraline(family)
    response = signed_in(family.tess).post(
        reverse("refills:new"), refill_form(medication, pharmacy=None, new_name="Corner Pharmacy")
    )
    assert response.status_code == 302
    refill = RefillRequest.objects.get()
    assert refill.thread is not None and refill.thread.sensitivity == "mental-health"
    assert "Sertraline" not in signed_in(family.parent).get(reverse("refills:list")).content.decode()
