"""Forgot password and forgot username: same answer whether or not the account exists;
reset links die with a password change; a reset never skips two-factor."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.accounts.actions import do_set_password
from portal.accounts.tests.helpers import (
    challenge_answer,
    enable_totp,
    sign_in,
    totp_code,
    verify_email,
    without_per_render_tokens,
)
from portal.audit.actor import Actor
from portal.audit.models import AuditEvent
from portal.test import PASSWORD, World

pytestmark = pytest.mark.django_db

RESET_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+/")
NEW_PASSWORD = "violet lantern under seven bridges"


@pytest.fixture
def verified(world: World) -> None:
    verify_email(world.alice_user, world.bob_user)


def ask_for_reset(client: Client, email: str) -> object:
    page = client.get(reverse("account_reset_password")).content
    return client.post(reverse("account_reset_password"), {"email": email, **challenge_answer(page)})


def ask_for_username(client: Client, email: str, **extra: str) -> object:
    page = client.get(reverse("accounts:forgot_username")).content
    return client.post(
        reverse("accounts:forgot_username"), {"email": email, **challenge_answer(page), **extra}
    )


def reset_link() -> str:
    """The link in the latest reset email."""
    for message in reversed(mail.outbox):
        match = RESET_LINK.search(str(message.body))
        if match is not None:
            return match.group(0)
    raise AssertionError("no reset link was emailed")


def follow_reset_link(client: Client, link: str) -> str:
    """Open a good emailed link: allauth moves the key into the session and redirects."""
    response = client.get(link)
    assert response.status_code == 302
    return str(response["Location"])


def open_reset_link(link: str) -> str:
    """The page a fresh browser sees for an emailed link."""
    client = Client()
    response = client.get(link, follow=True)
    assert response.status_code == 200
    return str(response.content.decode())


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(
    world: World, verified: None
) -> None:
    known = ask_for_reset(Client(), "alice@example.org")
    unknown = ask_for_reset(Client(), "nobody@example.org")
    assert known.status_code == unknown.status_code == 302  # type: ignore[attr-defined]
    assert known["Location"] == unknown["Location"] == reverse("account_reset_password_done")  # type: ignore[index]
    done_known = Client().get(reverse("account_reset_password_done"))
    assert without_per_render_tokens(done_known.content) == without_per_render_tokens(
        Client().get(reverse("account_reset_password_done")).content
    )
    # One email each: a link for the account, a "no account here" note for the stranger.
    assert [message.to for message in mail.outbox] == [["alice@example.org"], ["nobody@example.org"]]
    assert RESET_LINK.search(str(mail.outbox[0].body))
    assert not RESET_LINK.search(str(mail.outbox[1].body))


def test_forgot_password_needs_the_security_check(world: World, verified: None) -> None:
    response = Client().post(reverse("account_reset_password"), {"email": "alice@example.org"})
    assert response.status_code == 200
    assert "security question" in response.content.decode().lower()
    assert mail.outbox == []


def test_forgot_username_answers_the_same_for_known_and_unknown_addresses(
    world: World, verified: None
) -> None:
    known = ask_for_username(Client(), "alice@example.org")
    unknown = ask_for_username(Client(), "nobody@example.org")
    assert known.status_code == unknown.status_code == 302  # type: ignore[attr-defined]
    assert known["Location"] == unknown["Location"] == reverse("accounts:forgot_username_done")  # type: ignore[index]
    assert [message.to for message in mail.outbox] == [["alice@example.org"], ["nobody@example.org"]]
    assert "alice" in mail.outbox[0].body
    assert "no account uses this address" in mail.outbox[1].body
    events = AuditEvent.objects.filter(action="auth.username_reminder").order_by("sequence")
    assert [event.detail["accounts"] for event in events] == [[world.alice_user.pk], []]


def test_a_bot_filling_the_honeypot_sees_the_same_page_and_sends_nothing(
    world: World, verified: None
) -> None:
    response = ask_for_username(Client(), "alice@example.org", website="http://spam.example")
    assert response["Location"] == reverse("accounts:forgot_username_done")  # type: ignore[index]
    assert mail.outbox == []


def test_forgot_username_is_rate_limited_per_address_alike(world: World, verified: None) -> None:
    for email in ("alice@example.org", "nobody@example.org"):
        for _attempt in range(3):
            assert ask_for_username(Client(), email).status_code == 302  # type: ignore[attr-defined]
        refused = ask_for_username(Client(), email)
        assert refused.status_code == 429  # type: ignore[attr-defined]
        assert "Too many requests" in refused.content.decode()  # type: ignore[attr-defined]


def test_forgot_username_rejects_nonsense_without_an_error_page(client: Client, world: World) -> None:
    response = ask_for_username(client, "x" * 5000)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert mail.outbox == []


def test_a_reset_link_works_once_and_sets_the_password(world: World, verified: None) -> None:
    client = Client()
    ask_for_reset(client, "alice@example.org")
    form_url = follow_reset_link(client, reset_link())
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    world.alice_user.refresh_from_db()
    assert world.alice_user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(
        action="auth.password_reset", object_id=str(world.alice_user.pk)
    ).exists()
    assert "This link does not work" in open_reset_link(reset_link())


def test_a_reset_link_dies_when_the_password_changes(world: World, verified: None) -> None:
    client = Client()
    ask_for_reset(client, "alice@example.org")
    link = reset_link()
    # Django's token is made from the password hash: any new password invalidates it.
    do_set_password(Actor(user=world.alice_user), world.alice_user, "another long passphrase")
    page = open_reset_link(link)
    assert "This link does not work" in page
    assert 'name="password1"' not in page


def test_a_reset_link_dies_when_the_password_is_changed_through_the_form(
    world: World, verified: None
) -> None:
    ask_for_reset(Client(), "alice@example.org")
    link = reset_link()
    signed_in = Client()
    sign_in(signed_in, "alice")
    signed_in.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "This link does not work" in open_reset_link(link)


def test_a_reset_does_not_bypass_the_authenticator_app(world: World, verified: None) -> None:
    secret = enable_totp(world.alice_user)
    client = Client()
    ask_for_reset(client, "alice@example.org")
    form_url = follow_reset_link(client, reset_link())
    client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert "_auth_user_id" not in client.session

    response = sign_in(client, "alice", NEW_PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_login"))
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})["Location"] == reverse(
        "home"
    )
    assert client.get(reverse("home")).status_code == 200


def test_the_reset_form_refuses_a_short_or_common_password(world: World, verified: None) -> None:
    client = Client()
    ask_for_reset(client, "alice@example.org")
    form_url = follow_reset_link(client, reset_link())
    for weak in ("short-pw", "password1234"):
        response = client.post(form_url, {"password1": weak, "password2": weak})
        assert response.status_code == 200
        assert "There is a problem" in response.content.decode()
    world.alice_user.refresh_from_db()
    assert world.alice_user.check_password(PASSWORD)


def test_the_owner_is_told_when_the_password_changes(world: World, verified: None) -> None:
    client = Client()
    sign_in(client, "alice")
    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    notice = mail.outbox[-1]
    assert notice.to == ["alice@example.org"]
    assert notice.subject.startswith("[Patient Online Services]")
    assert "Hello from Patient Online Services." in str(notice.body)
