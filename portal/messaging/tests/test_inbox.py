"""The staff inbox pages: who sees which queue, filters and paging, one thread with its
notes and the patient beside it, attachments, reply templates, and query counts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.lib.uploads import check_image
from portal.messaging import views_inbox
from portal.messaging.models import Message, Referral, ReplyTemplate, StaffNote, Thread, Topic
from portal.messaging.tests.support import (
    MessagingWorld,
    messaging_world,
    png_upload,
    staff_reply,
    start_thread,
)
from portal.records.models import Allergy, Medication
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654
QUEUE = reverse("inbox:queue")


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def signed_in(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def thread_url(thread: Thread | int) -> str:
    return reverse("inbox:thread", args=[getattr(thread, "pk", thread)])


def queue_of(pool: Any, **params: Any) -> dict[str, Any]:
    return {"pool": pool.pk, **params}


def make_threads(clinic: MessagingWorld, count: int, **fields: Any) -> None:
    """Many threads at once, as the benchmark would have them (no actions, nobody told)."""
    world = clinic.world
    now = timezone.now()
    values: dict[str, Any] = {
        "patient": world.alice,
        "topic": Topic.MEDICAL,
        "pool": world.care_team,
        "care_team": world.care_team,
        "campus": world.campus,
        "started_by": world.alice_user,
        "due_at": now + dt.timedelta(hours=48),
    }
    values.update(fields)
    Thread.objects.bulk_create(
        Thread(
            subject=f"Bulk question {number}", last_message_at=now - dt.timedelta(minutes=number), **values
        )
        for number in range(count)
    )


# Who sees which queue --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "topic"),
    [("carol", Topic.MEDICAL), ("nina", Topic.MEDICAL), ("sam", Topic.APPOINTMENT), ("bill", Topic.BILLING)],
)
def test_pool_members_see_their_pool_queue(clinic: MessagingWorld, member: str, topic: str) -> None:
    thread = start_thread(clinic.world, topic=topic, subject="A question for the pool")
    page = signed_in(User.objects.get(username=member)).get(QUEUE, queue_of(thread.pool))
    text = page.content.decode()
    assert page.status_code == 200
    assert "A question for the pool" in text and thread_url(thread) in text
    assert "Alice Able" in text and "10000001" in text
    assert thread.get_topic_display() in text
    event = AuditEvent.objects.filter(action="messaging.inbox_view").latest("sequence")
    assert event.detail["threads"] == [thread.pk] and event.detail["patients"] == [clinic.world.alice.pk]


def test_the_first_pool_is_shown_when_none_is_chosen(clinic: MessagingWorld) -> None:
    start_thread(clinic.world, subject="Family medicine question")
    page = signed_in(clinic.world.clinician).get(QUEUE)
    assert page.status_code == 200
    assert "Family medicine question" in page.content.decode()


def test_other_pools_threads_are_not_in_the_queue(clinic: MessagingWorld) -> None:
    start_thread(clinic.world, topic=Topic.BILLING, subject="Billing question")
    start_thread(clinic.world, subject="Medical question")
    text = signed_in(clinic.world.clinician).get(QUEUE).content.decode()
    assert "Medical question" in text and "Billing question" not in text


def test_another_pools_queue_is_missing(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world.clinician)
    missing = client.get(QUEUE, {"pool": MISSING})
    assert missing.status_code == 404
    assert_same_as_missing(client.get(QUEUE, queue_of(clinic.billing_office)), missing)
    assert client.get(QUEUE, {"pool": "not-a-pool"}).status_code == 404


@pytest.mark.parametrize("persona", ["unassigned_staff", "admin", "patient", "proxy", "other_patient"])
def test_people_in_no_pool_get_the_missing_page_everywhere(clinic: MessagingWorld, persona: str) -> None:
    thread = start_thread(clinic.world, files=(check_image(png_upload(), 10**6),))
    attachment = Message.objects.get(thread=thread).attachments.get()
    client = signed_in(clinic.world.persona(persona))
    gets = [
        QUEUE,
        reverse("inbox:mine"),
        reverse("inbox:attachment", args=[attachment.pk]),
        reverse("inbox:start", args=[clinic.world.alice.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    assert_same_as_missing(client.get(thread_url(thread)), client.get(thread_url(MISSING)))
    for name in ("reply", "note", "assign", "status", "move"):
        response = client.post(reverse(f"inbox:{name}", args=[thread.pk]), {"body": "x", "status": "closed"})
        assert response.status_code == 404, name
    thread.refresh_from_db()
    assert thread.status == Thread.Status.NEW and not StaffNote.objects.exists()
    assert Message.objects.filter(thread=thread).count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    client = signed_in(None)
    for url in (QUEUE, reverse("inbox:mine"), thread_url(thread)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("inbox:status", args=[thread.pk]), {"status": "closed"})
    assert response.status_code == 302
    thread.refresh_from_db()
    assert thread.status == Thread.Status.NEW


def test_a_clinician_caring_for_alice_cannot_open_a_billing_thread(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, topic=Topic.BILLING)
    client = signed_in(clinic.world.clinician)
    assert_same_as_missing(client.get(thread_url(thread)), client.get(thread_url(MISSING)))
    assert client.post(reverse("inbox:note", args=[thread.pk]), {"body": "A note"}).status_code == 404
    assert not StaffNote.objects.exists()
    refused = AuditEvent.objects.filter(action="access.refused", actor_id=clinic.world.clinician.pk)
    assert refused.filter(patient_id=clinic.world.alice.pk).exists()


def test_the_desk_cannot_open_a_care_team_thread(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    client = signed_in(clinic.world.scheduler)
    assert_same_as_missing(client.get(thread_url(thread)), client.get(thread_url(MISSING)))


def test_the_inbox_link_shows_for_pool_members_only(clinic: MessagingWorld) -> None:
    start_thread(clinic.world)
    home = reverse("staff:home")
    carols = signed_in(clinic.world.clinician).get(home).content.decode()
    assert f'href="{QUEUE}"' in carols
    assert "Family Medicine, Rochester</a>: 1 new, 0 overdue" in carols
    daves = signed_in(clinic.world.unassigned_staff).get(home).content.decode()
    assert f'href="{QUEUE}"' not in daves and "Message inbox" not in daves


# Filters and paging ----------------------------------------------------------------------


def test_the_queue_shows_open_threads_unless_asked(clinic: MessagingWorld) -> None:
    waiting = start_thread(clinic.world, subject="Answered question")
    staff_reply(waiting, clinic.nurse)
    start_thread(clinic.world, subject="Fresh question")
    client = signed_in(clinic.world.clinician)
    text = client.get(QUEUE).content.decode()
    assert "Fresh question" in text and "Answered question" not in text
    text = client.get(QUEUE, {"status": "waiting"}).content.decode()
    assert "Answered question" in text and "Fresh question" not in text
    text = client.get(QUEUE, {"status": "all"}).content.decode()
    assert "Answered question" in text and "Fresh question" in text


def test_filters_by_assignee_topic_and_search(clinic: MessagingWorld) -> None:
    mine = start_thread(clinic.world, subject="Dizzy spells", topic=Topic.MEDICAL)
    mine.assigned_to = clinic.world.clinician
    mine.status = Thread.Status.IN_PROGRESS
    mine.save()
    start_thread(clinic.world, subject="Tablet dose", topic=Topic.PRESCRIPTION)
    client = signed_in(clinic.world.clinician)

    def shown(**params: Any) -> set[str]:
        text = client.get(QUEUE, params).content.decode()
        return {subject for subject in ("Dizzy spells", "Tablet dose") if subject in text}

    assert shown() == {"Dizzy spells", "Tablet dose"}
    assert shown(assigned="me") == {"Dizzy spells"}
    assert shown(assigned="nobody") == {"Tablet dose"}
    assert shown(topic=Topic.PRESCRIPTION) == {"Tablet dose"}
    assert shown(q="dizzy") == {"Dizzy spells"}
    assert shown(q="alice tablet") == {"Tablet dose"}
    assert shown(q="10000001") == {"Dizzy spells", "Tablet dose"}
    assert shown(q="Baker") == set()
    mine_page = client.get(reverse("inbox:mine")).content.decode()
    assert "Dizzy spells" in mine_page and "Tablet dose" not in mine_page


def test_overdue_threads_are_flagged_and_can_be_shown_alone(clinic: MessagingWorld) -> None:
    late = start_thread(clinic.world, subject="Old question")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=30)):
        start_thread(clinic.world, subject="New question")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=50)):
        client = signed_in(clinic.world.clinician)
        page = client.get(QUEUE).content.decode()
        assert page.count("Overdue</span>") == 1
        assert "1 overdue" in page and "2 new" in page
        only = client.get(QUEUE, {"overdue": "on"}).content.decode()
        assert "Old question" in only and "New question" not in only
        thread_page = client.get(thread_url(late)).content.decode()
        assert "Overdue" in thread_page


def test_counts_stop_at_a_cap(clinic: MessagingWorld) -> None:
    make_threads(clinic, views_inbox.COUNT_CAP + 5)
    assert views_inbox.pool_counts(clinic.world.care_team)["new"] == f"{views_inbox.COUNT_CAP}+"


def test_the_queue_pages_by_keyset(clinic: MessagingWorld) -> None:
    make_threads(clinic, views_inbox.QUEUE_ROWS + 10)
    client = signed_in(clinic.world.clinician)
    first = client.get(QUEUE)
    assert first.context["next_cursor"]
    first_ids = [thread.pk for thread in first.context["threads"]]
    second = client.get(QUEUE, {"before": first.context["next_cursor"]})
    second_ids = [thread.pk for thread in second.context["threads"]]
    assert len(first_ids) == views_inbox.QUEUE_ROWS and len(second_ids) == 10
    assert not set(first_ids) & set(second_ids)
    assert not second.context["next_cursor"] and "Back to the latest" in second.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "<script>alert(1)</script>"},
        {"before": "notacursor"},
        {"before": "99999999999999999999999.1"},
        {"assigned": "everyone", "topic": "weather"},
        {"q": "x" * 500},
        {"overdue": "maybe", "status": ["new", "closed"]},
    ],
)
def test_garbage_filters_fall_back_without_an_error_page(
    clinic: MessagingWorld, params: dict[str, Any]
) -> None:
    start_thread(clinic.world, subject="Still listed")
    response = signed_in(clinic.world.clinician).get(QUEUE, params)
    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()
    assert "Still listed" in response.content.decode() or params.get("overdue")


def test_garbage_thread_params_are_harmless(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    client = signed_in(clinic.world.clinician)
    for params in ({"before": "notacursor"}, {"template": "<b>"}, {"template": MISSING}, {"before": "1.2.3"}):
        assert client.get(thread_url(thread), params).status_code == 200
    assert client.get("/staff/inbox/threads/99999999999999999999999/").status_code == 404


def test_the_queue_costs_the_same_for_5_or_500_threads(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world.clinician)
    make_threads(clinic, 5)
    client.get(QUEUE)
    small = query_count(lambda: client.get(QUEUE, {"status": "all"}))
    make_threads(clinic, 495, status=Thread.Status.WAITING_ON_PATIENT)
    make_threads(clinic, 100, status=Thread.Status.IN_PROGRESS, assigned_to=clinic.nurse)
    assert query_count(lambda: client.get(QUEUE, {"status": "all"})) == small
    mine = query_count(lambda: client.get(reverse("inbox:mine")))
    make_threads(clinic, 100, status=Thread.Status.IN_PROGRESS, assigned_to=clinic.world.clinician)
    assert query_count(lambda: client.get(reverse("inbox:mine"))) == mine


# One thread ------------------------------------------------------------------------------


def test_the_thread_shows_messages_oldest_first_with_labelled_notes(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, body="First from Alice")
    staff_reply(thread, clinic.nurse, body="Second from Nina")
    StaffNote.objects.create(thread=thread, author=clinic.nurse, body="Checked the chart")
    page = signed_in(clinic.world.clinician).get(thread_url(thread))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("First from Alice") < text.index("Second from Nina") < text.index("Checked the chart")
    assert "Internal note — not visible to the patient" in text
    assert AuditEvent.objects.filter(
        action="messaging.staff_thread_read", object_id=str(thread.pk), actor_id=clinic.world.clinician.pk
    ).exists()


def test_opening_a_thread_marks_the_patients_messages_read(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    staff_reply(thread, clinic.nurse)
    signed_in(clinic.world.clinician).get(thread_url(thread))
    patient_message = Message.objects.get(thread=thread, from_staff=False)
    staff_message = Message.objects.get(thread=thread, from_staff=True)
    assert patient_message.read_at is not None and staff_message.read_at is None


def test_a_thread_of_1000_messages_shows_the_latest_with_bounded_queries(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    client = signed_in(clinic.world.clinician)
    client.get(thread_url(thread))
    small = query_count(lambda: client.get(thread_url(thread)))
    start = timezone.now() - dt.timedelta(days=30)
    Message.objects.bulk_create(
        Message(
            thread=thread,
            author=clinic.world.alice_user,
            body=f"Reading number {number}",
            created_at=start + dt.timedelta(minutes=number),
        )
        for number in range(1000)
    )
    StaffNote.objects.bulk_create(
        StaffNote(thread=thread, author=clinic.nurse, body=f"Note {n}", created_at=start) for n in range(300)
    )
    assert query_count(lambda: client.get(thread_url(thread))) == small
    page = client.get(thread_url(thread))
    text = page.content.decode()
    # The latest 50: Alice's first message (sent now) and the 49 newest readings.
    assert "Reading number 999" in text and "Reading number 951" in text
    assert "Reading number 950" not in text and page.context["timeline"].earlier
    earlier = client.get(thread_url(thread), {"before": page.context["timeline"].earlier})
    earlier_text = earlier.content.decode()
    assert "Reading number 950" in earlier_text and "Reading number 901" in earlier_text
    assert "Reading number 999" not in earlier_text and "Reading number 900" not in earlier_text
    assert query_count(
        lambda: client.get(thread_url(thread), {"before": page.context["timeline"].earlier})
    ) == (small)


def test_a_reply_template_fills_the_reply(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    ours = ReplyTemplate.objects.create(
        name="Take with food",
        body="Dear {patient}, take it with food. {staff}, {pool}",
        pool=clinic.world.care_team,
    )
    everyone = ReplyTemplate.objects.create(name="Thanks", body="Thank you for your message.")
    theirs = ReplyTemplate.objects.create(
        name="Billing", body="Your bill is paid.", pool=clinic.billing_office
    )
    ReplyTemplate.objects.create(name="Retired", body="Old text", active=False)
    client = signed_in(clinic.world.clinician)
    page = client.get(thread_url(thread)).content.decode()
    assert "Take with food" in page and "Thanks" in page
    assert "Your bill is paid" not in page and "Retired" not in page
    filled = client.get(thread_url(thread), {"template": ours.pk}).context["reply_form"]["body"].value()
    assert filled == "Dear Alice, take it with food. Dr. Carol Staff, Family Medicine, Rochester"
    assert client.get(thread_url(thread), {"template": everyone.pk}).context["reply_form"][
        "body"
    ].value() == ("Thank you for your message.")
    assert not client.get(thread_url(thread), {"template": theirs.pk}).context["reply_form"]["body"].value()


def test_the_patient_is_beside_the_thread_as_far_as_access_goes(clinic: MessagingWorld) -> None:
    world = clinic.world
    Medication.objects.create(patient=world.alice, name="Lisinopril", dose="10 mg")
    Medication.objects.create(patient=world.alice, name="Old pills", status=Medication.Status.STOPPED)
    Allergy.objects.create(patient=world.alice, substance="Penicillin", recorded_on=dt.date(2020, 1, 1))
    medical = start_thread(world)
    text = signed_in(world.clinician).get(thread_url(medical)).content.decode()
    assert "Lisinopril" in text and "Penicillin" in text and "Old pills" not in text
    assert reverse("staff:patient", args=[world.alice.pk]) in text
    assert "10000001" in text and "English" in text
    billing = start_thread(world, topic=Topic.BILLING)
    text = signed_in(clinic.billing_clerk).get(thread_url(billing)).content.decode()
    assert "Alice Able" in text
    assert "Lisinopril" not in text and "Penicillin" not in text


def test_attachments_download_for_the_pool_only(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, files=(check_image(png_upload(), 10**6),))
    attachment = Message.objects.get(thread=thread).attachments.get()
    url = reverse("inbox:attachment", args=[attachment.pk])
    assert url in signed_in(clinic.nurse).get(thread_url(thread)).content.decode()
    response = signed_in(clinic.nurse).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert AuditEvent.objects.filter(
        action="messaging.staff_attachment_read", actor_id=clinic.nurse.pk
    ).exists()
    outsider = signed_in(clinic.billing_clerk)
    missing_url = reverse("inbox:attachment", args=[MISSING])
    assert_same_as_missing(outsider.get(url), outsider.get(missing_url))


def test_patients_never_see_internal_notes(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    staff_reply(thread, clinic.nurse, body="Visible answer")
    StaffNote.objects.create(thread=thread, author=clinic.nurse, body="Secret staff remark")
    try:
        url = reverse("messaging:thread", args=[thread.pk])
    except NoReverseMatch:
        pytest.skip("the patient thread page is not there yet")
    for user in (clinic.world.alice_user, clinic.world.proxy_user):
        page = signed_in(user).get(url)
        if page.status_code == 404:
            pytest.skip("the patient thread page is not there yet")
        text = page.content.decode()
        assert "Visible answer" in text
        assert "Secret staff remark" not in text and "Internal note" not in text


def test_the_thread_page_has_unique_ids_and_labelled_fields(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    ReplyTemplate.objects.create(name="Thanks", body="Thank you.")
    text = signed_in(clinic.world.clinician).get(thread_url(thread)).content.decode()
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), sorted(ids)
    for field_id in re.findall(r'<(?:textarea|select)[^>]*\sid="([^"]+)"', text):
        assert f'for="{field_id}"' in text, field_id


def test_a_referral_thread_shows_its_panel_when_there_is_one(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world, topic=Topic.REFERRAL, subject="Referral to cardiology")
    Referral.objects.create(
        patient=clinic.world.alice,
        requested_by=clinic.world.alice_user,
        specialty=clinic.cardiology,
        reason="Palpitations",
        thread=thread,
    )
    page = signed_in(clinic.world.clinician).get(thread_url(thread))
    assert page.status_code == 200
    if "referral_panel" in page.context:
        assert "Palpitations" in page.content.decode()
    plain = start_thread(clinic.world)
    assert "referral_panel" not in signed_in(clinic.world.clinician).get(thread_url(plain)).context
