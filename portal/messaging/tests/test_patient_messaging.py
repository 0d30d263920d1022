"""Patient-side messaging pages: writing to the care team, the inbox, conversations, archiving.

Tried as the patient, a proxy with and without the message scope, another patient,
unassigned staff, an administrator and an anonymous visitor.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.messaging.models import Message, Thread, Topic
from portal.messaging.templatetags.messaging import message_text
from portal.messaging.tests.support import MessagingWorld, messaging_world, staff_reply, start_thread
from portal.organization.models import CareTeam
from portal.patients.access import pool_access
from portal.patients.models import CareRelationship
from portal.records.tests.support import make_panel
from portal.test import PER_RENDER, World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

MISSING = 987654321
WARNING = "If this is an emergency, call 911. Messages are not read right away."


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clinic(world: World) -> MessagingWorld:
    return messaging_world(world)


def signed_in(world: World, persona: str = "patient") -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world.persona(persona))
    return client


def new_url(**query: Any) -> str:
    url = reverse("messaging:new")
    return f"{url}?{'&'.join(f'{key}={value}' for key, value in query.items())}" if query else url


def thread_url(thread_id: int) -> str:
    return reverse("messaging:thread", args=[thread_id])


def compose(world: World, **changes: Any) -> dict[str, Any]:
    form = {
        "topic": Topic.MEDICAL,
        "care_team": world.care_team.pk,
        "subject": "Dizzy in the mornings",
        "body": "I feel dizzy when I get up. Is it the new tablets?",
    }
    form.update(changes)
    return form


def actions_of(world: World) -> list[str]:
    return list(AuditEvent.objects.filter(patient=world.alice).values_list("action", flat=True))


# Writing to the care team ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "pool"),
    [
        (Topic.MEDICAL, "care_team"),
        (Topic.RESULT, "care_team"),
        (Topic.PRESCRIPTION, "care_team"),
        (Topic.REFERRAL, "care_team"),
        (Topic.OTHER, "care_team"),
        (Topic.APPOINTMENT, "desk"),
        (Topic.BILLING, "billing"),
    ],
)
def test_each_topic_goes_to_its_pool(clinic: MessagingWorld, topic: str, pool: str) -> None:
    world = clinic.world
    response = signed_in(world).post(reverse("messaging:new"), compose(world, topic=topic))
    thread = Thread.objects.get()
    expected = {"care_team": world.care_team, "desk": world.scheduling_desk, "billing": clinic.billing_office}
    assert thread.pool == expected[pool]
    assert response.status_code == 302 and response["Location"] == thread_url(thread.pk)
    assert thread.topic == topic and thread.started_by == world.alice_user
    message = Message.objects.get()
    assert message.body == "I feel dizzy when I get up. Is it the new tablets?" and not message.from_staff
    assert "messaging.thread_start" in actions_of(world)


def test_the_first_step_offers_topics_with_response_times_and_the_emergency_warning(
    clinic: MessagingWorld,
) -> None:
    page = signed_in(clinic.world).get(reverse("messaging:new")).content.decode()
    assert WARNING in page
    for label in ("Medical question", "Question about a test result", "Prescription", "Billing"):
        assert label in page
    assert "Usually answered within 1 day." in page  # appointments
    assert "Usually answered within 2 days." in page  # medical questions
    assert "Family Medicine, Rochester" in page


def test_the_second_step_shows_the_pool_and_response_time_before_sending(clinic: MessagingWorld) -> None:
    world = clinic.world
    response = signed_in(world).get(new_url(topic="billing", step=1))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Billing office" in page and "Usually answered within 3 days." in page
    assert WARNING in page
    assert 'name="body"' in page and 'type="file"' in page and "multiple" in page
    assert "messaging.compose_view" in actions_of(world)


def test_a_patient_with_one_care_team_goes_straight_to_writing(clinic: MessagingWorld) -> None:
    page = signed_in(clinic.world).get(new_url(topic="medical")).content.decode()
    assert 'name="body"' in page and "Family Medicine, Rochester" in page


def test_with_two_care_teams_the_patient_chooses(clinic: MessagingWorld) -> None:
    world = clinic.world
    cardiology = CareTeam.objects.create(slug="rst-cardio", name="Cardiology, Rochester", campus=world.campus)
    CareRelationship.objects.create(patient=world.alice, care_team=cardiology, starts_on=dt.date(2021, 1, 1))
    client = signed_in(world)
    page = client.get(new_url(topic="medical")).content.decode()
    assert 'name="body"' not in page and "Cardiology, Rochester" in page
    assert "error-message" not in page  # a link that could not choose asks, without scolding
    page = client.get(new_url(topic="medical", step=1)).content.decode()
    assert "Choose the care team to write to." in page
    client.post(reverse("messaging:new"), compose(world, care_team=cardiology.pk))
    assert Thread.objects.get().pool == cardiology


def test_someone_elses_care_team_is_not_a_choice(clinic: MessagingWorld) -> None:
    world = clinic.world
    elsewhere = CareTeam.objects.create(slug="other", name="Other team", campus=world.campus)
    response = signed_in(world).post(reverse("messaging:new"), compose(world, care_team=elsewhere.pk))
    assert response.status_code == 400
    assert "Choose one of the options shown." in response.content.decode()
    assert not Thread.objects.exists()


def test_without_a_care_team_only_the_desk_and_billing_can_be_written_to(clinic: MessagingWorld) -> None:
    world = clinic.world
    CareRelationship.objects.filter(patient=world.alice).update(ends_on=dt.date(2021, 1, 1))
    client = signed_in(world)
    page = client.get(reverse("messaging:new")).content.decode()
    assert "You do not have a care team you can write to online yet" in page
    assert 'value="medical"' not in page and 'value="appointment"' in page and 'value="billing"' in page
    response = client.post(reverse("messaging:new"), compose(world, topic="medical"))
    assert response.status_code == 400 and not Thread.objects.exists()
    client.post(reverse("messaging:new"), compose(world, topic="appointment", care_team=""))
    assert Thread.objects.get().pool == world.scheduling_desk  # the patient's own campus


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"body": ""}, "Write your message."),
        ({"body": "x" * 10_001}, "at most 10000 characters"),
        ({"subject": "s" * 151}, "at most 150 characters"),
        ({"topic": "gossip"}, "Choose one of the options shown."),
    ],
)
def test_bad_input_changes_nothing(clinic: MessagingWorld, changes: dict[str, Any], error: str) -> None:
    response = signed_in(clinic.world).post(reverse("messaging:new"), compose(clinic.world, **changes))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Thread.objects.exists() and not Message.objects.exists()


def test_a_missing_subject_is_named_after_the_topic(clinic: MessagingWorld) -> None:
    signed_in(clinic.world).post(reverse("messaging:new"), compose(clinic.world, subject="", topic="billing"))
    assert Thread.objects.get().subject == "Billing"


def test_asking_about_a_result_links_it(clinic: MessagingWorld) -> None:
    world = clinic.world
    report = make_panel(world.alice, "Lipid panel")
    make_panel(world.bob, "Bob's secret panel")
    client = signed_in(world)
    page = client.get(new_url(topic="result", result=report.pk)).content.decode()
    assert re.search(rf'<option value="{report.pk}" selected>Lipid panel', page)
    assert "Bob&#x27;s secret panel" not in page and "Bob's secret panel" not in page
    client.post(reverse("messaging:new"), compose(world, topic="result", result=report.pk, subject=""))
    message = Message.objects.get()
    assert message.result == report and message.thread.subject == "Question about a test result"
    page = client.get(thread_url(message.thread_id)).content.decode()
    assert reverse("records:result", args=[report.pk]) in page


def test_another_patients_result_cannot_be_linked(clinic: MessagingWorld) -> None:
    world = clinic.world
    theirs = make_panel(world.bob, "Bob's panel")
    client = signed_in(world)
    client.post(reverse("messaging:new"), compose(world, topic="result", result=theirs.pk))
    assert Message.objects.get().result is None  # Alice has no results: nothing to link
    make_panel(world.alice, "Alice's panel")
    response = client.post(reverse("messaging:new"), compose(world, topic="result", result=theirs.pk))
    assert response.status_code == 400 and "Choose one of the options shown." in response.content.decode()
    assert Thread.objects.count() == 1


def test_a_question_about_a_visit_goes_to_the_desk_of_its_campus(clinic: MessagingWorld) -> None:
    from portal.scheduling.tests.support import (
        book,
        local_moment,
        make_slot,
        phoenix_campus,
        scheduling_world,
    )

    world = clinic.world
    sw = scheduling_world(world)
    phoenix = phoenix_campus()
    sw.clinician.campuses.add(phoenix)
    sw.department.campuses.add(phoenix)
    desk = CareTeam.objects.create(
        slug="phx-desk", name="Phoenix scheduling desk", campus=phoenix, kind=CareTeam.Kind.SCHEDULING_DESK
    )
    visit = book(sw, make_slot(sw, local_moment(phoenix, 5, 9), campus=phoenix))
    client = signed_in(world)
    page = client.get(new_url(topic="appointment", appointment=visit.pk, care_team=world.care_team.pk))
    text = page.content.decode()
    assert "Phoenix scheduling desk" in text and re.search(rf'<option value="{visit.pk}" selected>', text)
    client.post(reverse("messaging:new"), compose(world, topic="appointment", appointment=visit.pk))
    thread = Thread.objects.get()
    assert thread.pool == desk and Message.objects.get().appointment == visit


# Proxies and strangers -------------------------------------------------------------------------


def test_a_proxy_with_the_message_scope_writes_and_reads(clinic: MessagingWorld) -> None:
    world = clinic.world
    proxy = signed_in(world, "proxy")
    proxy.post(reverse("messaging:new"), compose(world))
    thread = Thread.objects.get()
    assert thread.patient == world.alice and thread.started_by == world.proxy_user
    staff_reply(thread, clinic.nurse, body="Please come in for a blood pressure check.")
    page = proxy.get(thread_url(thread.pk)).content.decode()
    assert "Please come in for a blood pressure check." in page
    assert "Nina Staff, Family Medicine, Rochester" in page
    assert ">You<" in page
    page = signed_in(world).get(thread_url(thread.pk)).content.decode()
    assert "Pat Able (for Alice)" in page  # the patient sees who wrote for them
    assert "proxy" in AuditEvent.objects.filter(action="messaging.thread_read").values_list(
        "actor_role", flat=True
    )


def test_a_proxy_without_the_message_scope_cannot_send_or_read(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    world.proxy_grant.scopes = ["view"]
    world.proxy_grant.save()
    proxy = signed_in(world, "proxy")
    assert proxy.get(reverse("messaging:list")).status_code == 403
    assert proxy.get(reverse("messaging:new")).status_code == 403
    response = proxy.post(reverse("messaging:new"), compose(world))
    assert response.status_code == 403
    reply = proxy.post(reverse("messaging:reply", args=[thread.pk]), {"body": "Hello"})
    assert reply.status_code == 403
    assert Thread.objects.count() == 1 and Message.objects.count() == 1
    # The page says the access does not include messages, the same for any conversation.
    theirs, missing = proxy.get(thread_url(thread.pk)), proxy.get(thread_url(MISSING))
    assert theirs.status_code == missing.status_code == 403
    assert PER_RENDER.sub(b"", theirs.content) == PER_RENDER.sub(b"", missing.content)
    assert b"Dizzy" not in theirs.content and thread.subject.encode() not in theirs.content


@pytest.mark.parametrize("persona", ["other_patient", "unassigned_staff", "admin", "anonymous", "clinician"])
def test_strangers_see_a_missing_conversation(clinic: MessagingWorld, persona: str) -> None:
    world = clinic.world
    thread = start_thread(world, subject="Alice's private question")
    client = signed_in(world, persona)
    for name in ("thread", "reply", "archive"):
        method = client.get if name == "thread" else client.post
        mine = method(reverse(f"messaging:{name}", args=[thread.pk]))
        missing = method(reverse(f"messaging:{name}", args=[MISSING]))
        if persona == "anonymous":  # the sign-in page, with each page to come back to
            assert mine.status_code == missing.status_code == 302
            assert mine["Location"].startswith(reverse("account_login"))
        else:
            assert_same_as_missing(mine, missing)
    listing = client.get(reverse("messaging:list"), follow=True)
    assert "Alice&#x27;s private question" not in listing.content.decode()
    thread.refresh_from_db()
    assert thread.archived_at is None and Message.objects.count() == 1


def test_another_patients_conversation_is_missing_to_the_patient(clinic: MessagingWorld) -> None:
    world = clinic.world
    theirs = Thread.objects.create(
        patient=world.bob,
        topic=Topic.BILLING,
        subject="Bob's bill",
        pool=clinic.billing_office,
        started_by=world.bob_user,
    )
    client = signed_in(world)
    assert_same_as_missing(client.get(thread_url(theirs.pk)), client.get(thread_url(MISSING)))
    assert "Bob&#x27;s bill" not in client.get(reverse("messaging:list")).content.decode()
    refused = AuditEvent.objects.filter(action="access.refused", actor=world.alice_user)
    assert refused.exists()


# Reading a conversation ------------------------------------------------------------------------


def test_opening_a_conversation_marks_staff_messages_read_and_audits_it(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    answer = staff_reply(thread, clinic.nurse)
    page = signed_in(world).get(thread_url(thread.pk)).content.decode()
    assert "New" in page  # the reply was new when the page was drawn
    answer.refresh_from_db()
    assert answer.read_at is not None
    event = AuditEvent.objects.filter(action="messaging.thread_read").get()
    assert event.object_id == str(thread.pk) and event.actor == world.alice_user
    mine = thread.messages.filter(from_staff=False).get()
    assert mine.read_at is None  # the patient's own message waits for staff to open it


def test_the_patient_sees_when_staff_read_their_message(clinic: MessagingWorld) -> None:
    from portal.audit.actor import Actor
    from portal.messaging.actions import do_mark_thread_read

    world = clinic.world
    thread = start_thread(world)
    client = signed_in(world)
    assert "Not read yet" in client.get(thread_url(thread.pk)).content.decode()
    staff = pool_access(clinic.nurse, world.alice, thread.pool)
    assert staff is not None
    do_mark_thread_read(Actor.system(), staff, thread)
    assert "Read by the care team" in client.get(thread_url(thread.pk)).content.decode()


def test_times_are_shown_in_the_campus_time_labelled(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    page = signed_in(clinic.world).get(thread_url(thread.pk)).content.decode()
    assert "(Central time)" in page


def test_replying_sends_the_thread_back_to_the_pool(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    staff_reply(thread, clinic.nurse)
    response = signed_in(world).post(reverse("messaging:reply", args=[thread.pk]), {"body": "Thank you!"})
    assert response.status_code == 302 and response["Location"].endswith("#latest")
    thread.refresh_from_db()
    assert thread.status == Thread.Status.IN_PROGRESS and thread.due_at is not None
    assert thread.messages.last().body == "Thank you!"  # type: ignore[union-attr]


def test_an_empty_reply_changes_nothing(clinic: MessagingWorld) -> None:
    thread = start_thread(clinic.world)
    response = signed_in(clinic.world).post(reverse("messaging:reply", args=[thread.pk]), {"body": "  "})
    assert response.status_code == 400 and "Write your message." in response.content.decode()
    assert thread.messages.count() == 1


def test_a_closed_conversation_offers_a_new_message_instead_of_a_reply(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    staff_reply(thread, clinic.nurse, status=Thread.Status.CLOSED)
    client = signed_in(world)
    page = client.get(thread_url(thread.pk)).content.decode()
    assert "This conversation is closed" in page and 'name="body"' not in page
    assert f"{reverse('messaging:new')}?topic=medical&amp;care_team={world.care_team.pk}" in page
    response = client.post(reverse("messaging:reply", args=[thread.pk]), {"body": "One more thing"})
    assert response.status_code == 400
    assert thread.messages.count() == 2
    thread.refresh_from_db()
    assert thread.status == Thread.Status.CLOSED


def test_a_long_conversation_shows_the_latest_messages_with_a_link_to_earlier_ones(
    clinic: MessagingWorld,
) -> None:
    world = clinic.world
    thread = start_thread(world, body="message number 0")
    start = timezone.now()
    Message.objects.bulk_create(
        Message(
            thread=thread,
            author=world.alice_user,
            body=f"message number {n}",
            created_at=start + dt.timedelta(minutes=n),
        )
        for n in range(1, 60)
    )
    client = signed_in(world)
    page = client.get(thread_url(thread.pk)).content.decode()
    assert "message number 59" in page and "message number 10<" in page
    assert "message number 9<" not in page
    earlier = re.search(r'href="(\?before=[^"]+)">Earlier messages', page)
    assert earlier is not None
    page = client.get(thread_url(thread.pk) + earlier.group(1).replace("&amp;", "&")).content.decode()
    assert "message number 9<" in page and "message number 0<" in page and "message number 10<" not in page
    assert page.index("message number 0<") < page.index("message number 9<")  # oldest first


def _conversation(clinic: MessagingWorld, count: int) -> Thread:
    world = clinic.world
    report = make_panel(world.alice)
    thread = start_thread(world, result=report)
    start = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            thread=thread,
            author=clinic.nurse if n % 2 else world.proxy_user,
            from_staff=bool(n % 2),
            body=f"message {n} https://example.org/{n}",
            created_at=start + dt.timedelta(seconds=n),
            result=report if n % 7 == 0 else None,
        )
        for n in range(count - 1)
    )
    from portal.messaging.models import Attachment

    Attachment.objects.bulk_create(
        Attachment(message=message, file=f"messaging/x/{message.pk}", content_type="image/png", size=10)
        for message in messages[::3]
    )
    return thread


def test_a_thousand_messages_cost_the_same_queries_as_five(clinic: MessagingWorld) -> None:
    client = signed_in(clinic.world)
    small, large = _conversation(clinic, 5), _conversation(clinic, 1000)
    client.get(thread_url(small.pk))  # warm the session and the campus zone caches
    few = query_count(lambda: client.get(thread_url(small.pk)))
    many = query_count(lambda: client.get(thread_url(large.pk)))
    assert many == few
    assert few < 40


# The inbox -------------------------------------------------------------------------------------


def test_the_inbox_lists_conversations_with_status_in_plain_words(clinic: MessagingWorld) -> None:
    world = clinic.world
    waiting = start_thread(world, subject="Waiting one")
    answered = start_thread(world, subject="Answered one")
    staff_reply(answered, clinic.nurse)
    closed = start_thread(world, subject="Closed one", topic=Topic.BILLING)
    staff_reply(closed, clinic.billing_clerk, status=Thread.Status.CLOSED)
    page = signed_in(world).get(reverse("messaging:list")).content.decode()
    for thread in (waiting, answered, closed):
        assert thread.subject in page
    assert "Waiting for the care team" in page and "Answered" in page and "Closed" in page
    assert "Billing office" in page and "Medical question" in page
    assert page.count("New reply") == 2  # answered and closed have unread staff messages
    assert "messaging.thread_list" in actions_of(world)


def test_an_empty_inbox_invites_a_first_message(clinic: MessagingWorld) -> None:
    page = signed_in(clinic.world).get(reverse("messaging:list")).content.decode()
    assert "You have no messages yet." in page and reverse("messaging:new") in page


def test_search_finds_subjects_and_message_text(clinic: MessagingWorld) -> None:
    world = clinic.world
    knee = start_thread(world, subject="Knee pain", body="It hurts on the stairs")
    bill = start_thread(world, subject="Invoice question", topic=Topic.BILLING, body="Was I charged twice?")
    staff_reply(knee, clinic.nurse, body="Try ice and rest")
    client = signed_in(world)

    def subjects(**query: str) -> set[str]:
        page = client.get(reverse("messaging:list"), query).content.decode()
        return {subject for subject in ("Knee pain", "Invoice question") if subject in page}

    assert subjects(q="knee") == {"Knee pain"}
    assert subjects(q="charged twice") == {"Invoice question"}
    assert subjects(q="ICE AND REST") == {"Knee pain"}
    assert subjects(topic="billing") == {"Invoice question"}
    assert subjects(unread="on") == {"Knee pain"}
    assert subjects(q="nothing like this") == set()
    assert subjects(topic="<script>") == {"Knee pain", "Invoice question"}  # a bad filter is ignored
    assert bill.pk


def test_archiving_hides_a_conversation_until_asked_for(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world, subject="Old question")
    client = signed_in(world)
    response = client.post(reverse("messaging:archive", args=[thread.pk]), {"archive": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("messaging:list")
    thread.refresh_from_db()
    assert thread.archived_at is not None
    assert "Old question" not in client.get(reverse("messaging:list")).content.decode()
    assert "Old question" in client.get(reverse("messaging:list"), {"archived": "on"}).content.decode()
    client.post(reverse("messaging:archive", args=[thread.pk]), {"archive": "0"})
    thread.refresh_from_db()
    assert thread.archived_at is None
    assert "Old question" in client.get(reverse("messaging:list")).content.decode()
    assert {"messaging.thread_archive", "messaging.thread_unarchive"} <= set(actions_of(world))


def test_a_reply_brings_an_archived_conversation_back(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world)
    client = signed_in(world)
    client.post(reverse("messaging:archive", args=[thread.pk]), {"archive": "1"})
    client.post(reverse("messaging:reply", args=[thread.pk]), {"body": "Actually, one more thing"})
    thread.refresh_from_db()
    assert thread.archived_at is None


def test_the_inbox_pages_by_keyset_with_a_bounded_query_count(clinic: MessagingWorld) -> None:
    world = clinic.world
    start = timezone.now()
    Thread.objects.bulk_create(
        Thread(
            patient=world.alice,
            topic=Topic.MEDICAL,
            subject=f"Question {n:02d}",
            pool=world.care_team,
            started_by=world.alice_user,
            last_message_at=start - dt.timedelta(hours=n),
        )
        for n in range(25)
    )
    client = signed_in(world)
    page = client.get(reverse("messaging:list")).content.decode()
    assert "Question 00" in page and "Question 19" in page and "Question 20" not in page
    older = re.search(r'href="(\?after=[^"]+)">Older conversations', page)
    assert older is not None
    page = client.get(reverse("messaging:list") + older.group(1).replace("&amp;", "&")).content.decode()
    assert "Question 20" in page and "Question 24" in page and "Question 19" not in page
    few = query_count(lambda: client.get(reverse("messaging:list")))
    Thread.objects.bulk_create(
        Thread(
            patient=world.alice,
            topic=Topic.OTHER,
            subject="More",
            pool=world.care_team,
            started_by=world.alice_user,
        )
        for _n in range(100)
    )
    assert query_count(lambda: client.get(reverse("messaging:list"))) == few


# Safe text -------------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "javascript:alert(1)",
]


def test_stored_script_in_subject_and_body_renders_inert(clinic: MessagingWorld) -> None:
    world = clinic.world
    client = signed_in(world)
    for payload in PAYLOADS:
        client.post(reverse("messaging:new"), compose(world, subject=payload[:150], body=f"Look: {payload}"))
    assert Thread.objects.count() == len(PAYLOADS)
    pages = [client.get(reverse("messaging:list")).content.decode()]
    pages += [client.get(thread_url(thread.pk)).content.decode() for thread in Thread.objects.all()]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert 'href="javascript:' not in page.lower()
        assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in "".join(pages)


def test_message_text_links_web_addresses_only() -> None:
    html = str(message_text("See https://example.org/a?b=1&c=2. Or javascript:alert(1)\nor www.example.com"))
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">' in html
    assert "</a>. Or javascript:alert(1)<br>" in html
    assert "www.example.com" in html and 'href="http://www.example.com' not in html
    assert str(message_text("x <b>bold</b> http://a.example/<script>")) == (
        'x &lt;b&gt;bold&lt;/b&gt; <a href="http://a.example/" rel="noopener noreferrer nofollow">'
        "http://a.example/</a>&lt;script&gt;"
    )
    assert str(message_text("(see https://example.org/x_(y))")) == (
        '(see <a href="https://example.org/x_(y)" rel="noopener noreferrer nofollow">'
        "https://example.org/x_(y)</a>)"
    )
    assert str(message_text('https://x.example/"onmouseover="alert(1)')).count('"') == 4


# Around the portal -----------------------------------------------------------------------------


def test_the_home_page_card_counts_unread_replies(clinic: MessagingWorld) -> None:
    world = clinic.world
    thread = start_thread(world, subject="Card question")
    staff_reply(thread, clinic.nurse)
    staff_reply(thread, clinic.nurse, body="And one more thing.")
    client = signed_in(world)
    page = client.get(reverse("home")).content.decode()
    assert "2 unread messages" in page and "Card question" in page
    client.get(thread_url(thread.pk))
    assert "No unread messages." in client.get(reverse("home")).content.decode()


def test_the_navigation_leads_to_messages(clinic: MessagingWorld) -> None:
    page = signed_in(clinic.world).get(reverse("messaging:list")).content.decode()
    assert f'<a href="{reverse("messaging:list")}" aria-current="page">Messages</a>' in page


def test_a_result_page_offers_to_ask_about_it(clinic: MessagingWorld) -> None:
    world = clinic.world
    report = make_panel(world.alice)
    link = f"{reverse('messaging:new')}?topic=result&amp;result={report.pk}"
    assert link in signed_in(world).get(reverse("records:result", args=[report.pk])).content.decode()
    world.proxy_grant.scopes = ["view"]
    world.proxy_grant.save()
    page = signed_in(world, "proxy").get(reverse("records:result", args=[report.pk])).content.decode()
    assert "Basic metabolic panel" in page and link not in page


def test_an_appointment_page_offers_to_ask_the_desk(clinic: MessagingWorld) -> None:
    from portal.scheduling.tests.support import book, local_moment, make_slot, scheduling_world

    sw = scheduling_world(clinic.world)
    visit = book(sw, make_slot(sw, local_moment(clinic.world.campus, 5, 9)))
    page = signed_in(clinic.world).get(reverse("appointments:detail", args=[visit.pk])).content.decode()
    assert f"{reverse('messaging:new')}?topic=appointment&amp;appointment={visit.pk}" in page


def test_continuing_without_a_topic_says_what_is_missing(client: Client, world: World) -> None:
    messaging_world(world)
    client.force_login(world.alice_user)
    response = client.get(reverse("messaging:new"), {"step": "1"})
    assert response.status_code == 200
    assert b'aria-invalid="true"' in response.content or b"errorlist" in response.content


def test_the_same_form_sent_twice_stores_one_message(clinic: MessagingWorld) -> None:
    world = clinic.world
    client = signed_in(world)
    page = client.get(new_url(topic="medical")).content.decode()
    key = re.search(r'name="client_key" value="([0-9a-f]{32})"', page)
    assert key is not None
    data = compose(world, client_key=key.group(1))
    first, second = client.post(reverse("messaging:new"), data), client.post(reverse("messaging:new"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Thread.objects.count() == 1 and Message.objects.count() == 1

    thread = Thread.objects.get()
    reply = {"body": "One more thing.", "client_key": "b" * 32}
    for _attempt in range(2):
        assert client.post(reverse("messaging:reply", args=[thread.pk]), reply).status_code == 302
    assert thread.messages.count() == 2
    # A key already used in another conversation is refused there, and a malformed key ignored.
    other = start_thread(world)
    refused = client.post(reverse("messaging:reply", args=[other.pk]), reply)
    assert refused.status_code == 400 and "already used" in refused.content.decode()
    assert other.messages.count() == 1
    junk = {"body": "Twice?", "client_key": "not-a-key"}
    for _attempt in range(2):
        client.post(reverse("messaging:reply", args=[other.pk]), junk)
    assert other.messages.filter(body="Twice?").count() == 2
