"""The demo mailbox: every locally delivered email and text on one demo-only page, newest
first and paged, bodies escaped with their links clickable; absent unless enabled."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMessage
from django.test import Client, override_settings
from django.urls import reverse

from portal.notifications import outbox
from portal.notifications.mailbox import IDEMPOTENCY_HEADER
from portal.notifications.models import MailboxEntry, OutboxMessage
from portal.notifications.tests.delivery_support import consent_to_texts, queue_message
from portal.notifications.views_mailbox import PAGE_SIZE
from portal.test import World, query_count

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("settings_for_the_demo"),
]

URL = "/demo/mailbox/"
BANNER = "Demo only: these emails and texts were not sent."


@pytest.fixture
def settings_for_the_demo() -> object:
    with override_settings(
        PORTAL_DEMO_MAILBOX=True, EMAIL_BACKEND="portal.notifications.mailbox.MailboxEmailBackend"
    ) as overridden:
        yield overridden


def entry(number: int, channel: str = "email", **fields: str) -> MailboxEntry:
    values = {"to": f"person{number}@example.org", "subject": f"Subject {number}", "body": f"Body {number}"}
    return MailboxEntry.objects.create(
        channel=channel, idempotency_key=f"key-{number}", **{**values, **fields}
    )


def test_it_is_not_there_unless_enabled(world: World) -> None:
    entry(1)
    with override_settings(PORTAL_DEMO_MAILBOX=False):
        response = Client().get(URL)
    assert response.status_code == 404
    assert b"Body 1" not in response.content


def test_the_url_is_named() -> None:
    assert reverse("mailbox:list") == URL


@pytest.mark.parametrize("persona", ["anonymous", "patient", "clinician"])
def test_it_shows_delivered_emails_and_texts_newest_first(world: World, persona: str) -> None:
    queue_message(world, OutboxMessage.Channel.EMAIL)
    consent_to_texts(world.alice, "+15075550199")
    queue_message(world, OutboxMessage.Channel.SMS)
    assert outbox.deliver_due() == 2
    client = Client()
    if persona != "anonymous":
        client.force_login(world.persona(persona))
    response = client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert BANNER in content
    assert content.index("+15075550199") < content.index("alice@example.org")  # the text came last
    assert "New message in your patient portal" in content and "Text message" in content
    assert '<a href="http://127.0.0.1:8000/messages/1/"' in content


def test_bodies_are_escaped_and_links_clickable(world: World) -> None:
    entry(1, body='<script>alert("x")</script> <b>bold</b>\nsee https://example.org/page?a=1&b=2')
    content = Client().get(URL).content.decode()
    assert "<script>alert" not in content and "&lt;script&gt;" in content
    assert "<b>bold</b>" not in content and "&lt;b&gt;bold&lt;/b&gt;" in content
    assert 'href="https://example.org/page?a=1&amp;b=2"' in content
    assert "<br>" in content


def test_it_is_paged_with_a_bounded_number_of_queries(world: World) -> None:
    for number in range(5):
        entry(number)
    client = Client()
    few = query_count(lambda: client.get(URL))
    for number in range(5, PAGE_SIZE + 5):
        entry(number)
    many = query_count(lambda: client.get(URL))
    assert few == many
    first = client.get(URL).content.decode()
    newest, oldest_on_first_page = PAGE_SIZE + 4, 5
    assert f"Subject {newest}" in first and f"Subject {oldest_on_first_page}" in first
    assert "Subject 4" not in first and "Older emails and texts" in first
    cursor = MailboxEntry.objects.get(idempotency_key=f"key-{oldest_on_first_page}").pk
    second = client.get(URL, {"before": cursor}).content.decode()
    assert "Subject 4" in second and "Subject 0" in second and f"Subject {newest}" not in second
    assert "Older emails and texts" not in second
    assert client.get(URL, {"before": "not-a-number"}).status_code == 200


def test_an_empty_mailbox_says_so(world: World) -> None:
    content = Client().get(URL).content.decode()
    assert BANNER in content and "Nothing has been delivered yet." in content


def test_the_backend_stores_a_repeated_delivery_once() -> None:
    for _attempt in range(2):
        EmailMessage(
            "Hello", "Body", "portal@localhost", ["a@example.org"], headers={IDEMPOTENCY_HEADER: "k"}
        ).send()
    EmailMessage("Hello", "Body", "portal@localhost", ["a@example.org"]).send()  # no key: each stored
    assert MailboxEntry.objects.count() == 2
